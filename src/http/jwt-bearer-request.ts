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
import { ApprovalIdField, type JwtBearerRequest } from "../exchange/broker.js";
import type { Policy } from "../policy/types.js";
import { EXCHANGE_ONLY, type FormParams, rejectRepeated, single } from "./form-params.js";
import { parsedForm, ReasonParam, ScopeParam, scopesOf, tokenField } from "./token-request.js";

/** Whether the JWT bearer grant is on: some trusted issuer's ID-JAGs are accepted. */
export function acceptsIdJags(policy: Policy): boolean {
  return [...policy.issuers.values()].some((issuer) => issuer.idJag);
}

const JwtBearerRequestSchema = z.object({
  assertion: tokenField("assertion"),
  scope: ScopeParam,
  reason: ReasonParam,
  approval_id: ApprovalIdField.optional(),
});

/** Validates the form and returns the request, or throws the matching OAuth error. */
export function parseJwtBearerRequest(params: FormParams, policy: Policy): JwtBearerRequest {
  if (!acceptsIdJags(policy)) throw unsupportedGrantType();
  // RFC 6749 §3.2: no parameter more than once, `assertion` included.
  rejectRepeated(params);
  // The target is the ID-JAG's own `resource` (EMA §7.2.1), never a parameter: an exchange's
  // parameter here means the client confused the two grants, so it is refused, not half-read.
  for (const name of EXCHANGE_ONLY) {
    if (params.has(name)) {
      throw invalidRequest(`"${name}" is not a parameter of the JWT bearer grant`);
    }
  }
  // RFC 7521 §4.1: the assertion is REQUIRED.
  if (single(params, "assertion") === undefined) {
    throw invalidRequest('"assertion" parameter is required', "assertion.missing");
  }
  const r = parsedForm(JwtBearerRequestSchema, {
    assertion: single(params, "assertion"),
    scope: single(params, "scope"),
    reason: single(params, "reason"),
    approval_id: single(params, "approval_id"),
  });
  return {
    assertion: r.assertion,
    ...scopesOf(r.scope),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.approval_id === undefined ? {} : { approvalId: r.approval_id }),
  };
}
