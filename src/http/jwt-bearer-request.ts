/**
 * Parses a JWT bearer grant request (RFC 7523 §2.1, RFC 7521 §4.1) with an ID-JAG as its
 * assertion (draft-ietf-oauth-identity-assertion-authz-grant §4.4) from form parameters, once,
 * at the edge, into the core's `JwtBearerRequest`.
 *
 * The grant exists only while some trusted issuer is marked `id_jag: true` (design §3.2);
 * otherwise it is `unsupported_grant_type`, as any other grant.
 *
 * @module http/jwt-bearer-request
 */

import { z } from "zod";
import { invalidRequest, unsupportedGrantType } from "../errors.js";
import { ApprovalIdField, type JwtBearerRequest, MAX_REASON_LENGTH } from "../exchange/broker.js";
import type { Policy } from "../policy/types.js";
import type { FormParams } from "./form-params.js";
import { single } from "./form-params.js";
import { SCOPE, tokenField } from "./token-request.js";

/** Whether the JWT bearer grant is on: some trusted issuer's ID-JAGs are accepted. */
export function acceptsIdJags(policy: Policy): boolean {
  return [...policy.issuers.values()].some((issuer) => issuer.idJag);
}

/**
 * The token exchange's own parameters: sent with this grant, they mean the client confused
 * the two, so the request is refused rather than half-read. The target is the ID-JAG's own
 * `resource` (EMA §7.2.1), never a parameter.
 */
const EXCHANGE_ONLY = [
  "subject_token",
  "subject_token_type",
  "actor_token",
  "actor_token_type",
  "requested_token_type",
  "resource",
  "audience",
  "task_id",
  "ttl_seconds",
] as const;

const JwtBearerRequestSchema = z.object({
  assertion: tokenField("assertion"),
  scope: z
    .string()
    .max(4096, '"scope" parameter is too long')
    .regex(SCOPE, '"scope" parameter is malformed')
    .optional(),
  reason: z.string().max(MAX_REASON_LENGTH, '"reason" parameter is too long').optional(),
  approval_id: ApprovalIdField.optional(),
});

/** Validates the form and returns the request, or throws the matching OAuth error. */
export function parseJwtBearerRequest(params: FormParams, policy: Policy): JwtBearerRequest {
  if (!acceptsIdJags(policy)) throw unsupportedGrantType();
  // RFC 6749 §3.2: no parameter more than once (the shared check does not know `assertion`).
  if ((params.get("assertion")?.length ?? 0) > 1) {
    throw invalidRequest('"assertion" parameter is repeated', "request.repeated");
  }
  for (const name of EXCHANGE_ONLY) {
    if (params.has(name)) {
      throw invalidRequest(`"${name}" is not a parameter of the JWT bearer grant`);
    }
  }
  // RFC 7521 §4.1: the assertion is REQUIRED.
  if (single(params, "assertion") === undefined) {
    throw invalidRequest('"assertion" parameter is required', "assertion.missing");
  }
  const parsed = JwtBearerRequestSchema.safeParse({
    assertion: single(params, "assertion"),
    scope: single(params, "scope"),
    reason: single(params, "reason"),
    approval_id: single(params, "approval_id"),
  });
  if (!parsed.success) {
    throw invalidRequest(parsed.error.issues[0]?.message ?? "The request is malformed");
  }
  const r = parsed.data;
  return {
    assertion: r.assertion,
    ...(r.scope === undefined ? {} : { scopes: [...new Set(r.scope.split(" "))] }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.approval_id === undefined ? {} : { approvalId: r.approval_id }),
  };
}
