/**
 * The HTTP door: routes of design §3.2 on hono. Every route is a thin adapter onto the core.
 *
 * @module http/app
 */

import { Hono } from "hono";
import { PATHS } from "../urls.js";
import { approvalStatusEndpoint } from "./approval-status-endpoint.js";
import { mountApprovalsPage } from "./approvals/page.js";
import type { HttpContext } from "./context.js";
import { introspectionEndpoint } from "./introspection-endpoint.js";
import { jwksEndpoint, metadataEndpoint, resourceMetadataEndpoint } from "./metadata.js";
import { metricsEndpoint, timeRequests } from "./metrics-endpoint.js";
import { readinessEndpoint } from "./readiness.js";
import { oauthError } from "./respond.js";
import { revocationEndpoint } from "./revocation-endpoint.js";
import { endTaskEndpoint, startTaskEndpoint } from "./task-endpoints.js";
import { tokenEndpoint } from "./token-endpoint.js";
import { whoamiEndpoint } from "./whoami-endpoint.js";

export function createApp(ctx: HttpContext): Hono {
  const app = new Hono();

  const { metrics } = ctx;
  // First, so that it times every route below, and the refusals of their middleware too.
  if (metrics) app.use("*", timeRequests(metrics));
  app.get(PATHS.metadata, metadataEndpoint(ctx));
  app.get(PATHS.jwks, jwksEndpoint(ctx));
  app.post(PATHS.token, tokenEndpoint(ctx));
  app.post(PATHS.introspect, introspectionEndpoint(ctx));
  app.post(PATHS.revoke, revocationEndpoint(ctx));
  app.post(PATHS.whoami, whoamiEndpoint(ctx));
  app.post(PATHS.tasks, startTaskEndpoint(ctx));
  app.post(`${PATHS.tasks}/:id/end`, endTaskEndpoint(ctx));
  app.post(`${PATHS.approvals}/:id/status`, approvalStatusEndpoint(ctx));
  // Liveness, and the policy version in force, so an operator can watch a rollout reach
  // every node. It never asks the store: that is readiness (/readyz).
  app.get("/healthz", (c) => c.json({ status: "ok", policy_version: ctx.broker.policy().version }));
  app.get("/readyz", readinessEndpoint(ctx));
  if (metrics) app.get("/metrics", metricsEndpoint(metrics));
  mountApprovalsPage(app, ctx);

  const { mcp } = ctx;
  if (mcp) {
    app.get(PATHS.resourceMetadata, resourceMetadataEndpoint(ctx));
    app.get(PATHS.resourceMetadataRoot, resourceMetadataEndpoint(ctx));
    app.all(PATHS.mcp, (c) => mcp(c.req.raw));
  }

  app.notFound((c) => c.json({ error: "not_found" }, 404));
  app.onError((err, c) => {
    ctx.logFailure(err, "app");
    return oauthError(c, err);
  });
  return app;
}
