/**
 * An example API that accepts Baton's tokens: the traveller's calendar, resource
 * `https://calendar.example.com` in policies/apis.yaml.
 *
 *   node --conditions=baton-source --import tsx examples/calendar-api.ts   # on port 8801
 */

import { serve } from "@hono/node-server";
import { createVerifier } from "baton/verify";
import { Hono } from "hono";
import { type ApiOptions, BATON_URL, introspectionFor, isMain } from "./demo.js";
import { type AuthEnv, requireToken } from "./middleware/hono.js";

export const CALENDAR = "https://calendar.example.com";

export function calendarApi(options: ApiOptions): Hono<AuthEnv> {
  const verifier = createVerifier({ ...options, audience: CALENDAR });
  const app = new Hono<AuthEnv>();

  app.get("/events", requireToken(verifier, ["calendar.read"], "calendar"), (c) => {
    const { subject, actor, chain, txn } = c.get("auth");
    return c.json({
      calendar_of: subject,
      read_by: actor,
      chain,
      task: txn ?? null,
      events: [{ title: "Team offsite", from: "2026-03-02", to: "2026-03-04" }],
    });
  });

  app.post("/events", requireToken(verifier, ["calendar.write"], "calendar"), (c) => {
    const { subject, actor } = c.get("auth");
    return c.json({ calendar_of: subject, written_by: actor, created: true }, 201);
  });

  return app;
}

if (isMain(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8801);
  serve({
    fetch: calendarApi({ issuer: BATON_URL, introspection: introspectionFor("calendar-api") })
      .fetch,
    hostname: "127.0.0.1",
    port,
  });
  console.log(`Calendar API on http://127.0.0.1:${port}, trusting ${BATON_URL}`);
}
