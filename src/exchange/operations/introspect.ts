/**
 * RFC 7662 token introspection, with `act`, `may_act` and `txn` (RFC 8693 §7.4), answered in
 * full only to a client entitled to the answer (RFC 7662 §4).
 *
 * @module exchange/operations/introspect
 */

import type { Policy } from "../../policy/types.js";
import { readActChain } from "../../tokens/act.js";
import { anyRevoked } from "../steps/lineage.js";
import { type OwnToken, verifyOwnToken } from "../steps/verify-issued-token.js";
import type { Caller, ExchangeDeps } from "../types.js";

export type IntrospectionResponse =
  | { active: false }
  | ({ active: true } & Record<string, unknown>);

/** Claims copied into the response (RFC 7662 §2.2, RFC 8693 §7.4). */
const REPORTED = [
  "iss",
  "sub",
  "aud",
  "resource",
  "client_id",
  "scope",
  "exp",
  "iat",
  "jti",
  "act",
  "may_act",
  "txn",
];

/**
 * Introspects `token` for `caller`. Unknown, invalid, expired, revoked, and valid but none of
 * the caller's business all get the same `{active: false}` (RFC 7662 §4: no oracle telling a
 * live token from a dead one to a client that may not see it).
 */
export async function introspectToken(
  deps: ExchangeDeps,
  token: string,
  caller: Caller,
): Promise<IntrospectionResponse> {
  const now = deps.clock.now();
  // One request, one policy: entitlement is decided under the policy in force now.
  const { policy } = deps.active();
  const own = await verifyOwnToken(deps, token, now);
  // Rule 7: revoked if it, or anything it was derived from, is revoked.
  const active = own !== undefined && !(await anyRevoked(deps.store, own.lineage));
  const entitled = own !== undefined && mayIntrospect(own, caller.agentId, policy, deps.issuer);
  deps.audit.record({
    type: "token.introspected",
    by: caller.agentId,
    active,
    ...(own ? { jti: own.payload.jti as string } : {}),
    // Shown to the operator only: a caller probing tokens that are not its own.
    ...(own && !entitled ? { entitled: false as const } : {}),
  });
  if (!own || !active || !entitled) return { active: false };
  return reportedClaims(own);
}

/**
 * RFC 7662 §4: "the authorization server MUST determine whether or not the token can be used
 * at the protected resource making the introspection call". Entitled are:
 * - the holder: the agent it was issued to (`client_id`), or the agent a development token is
 *   bound to (`azp`);
 * - any agent in its `act` chain (a parent sees what its sub-agents hold), and for a
 *   delegation token the sub-agent named in `may_act`, its intended holder;
 * - the client of an API it is for: an access token whose `aud` is the `resource` of an API
 *   the caller `introspects` (policy).
 * An ID-JAG's `client_id` and `aud` are names at an outside authorization server, not Baton's:
 * only its chain counts there (the agent it was issued to is always the chain's first).
 * A development token bound to no agent may be presented by any agent (it is a subject token
 * for whoever holds it), so any agent may see it; the approval page's sign-in token is a
 * person's own and no agent's.
 */
function mayIntrospect(own: OwnToken, agentId: string, policy: Policy, issuer: string): boolean {
  const { payload } = own;
  if (own.kind === "dev") return devHolder(payload.azp, payload.aud, issuer, agentId);
  if (readActChain(payload.act)?.includes(agentId)) return true;
  if (own.kind === "id_jag") return false;
  if (payload.client_id === agentId) return true;
  if (own.kind === "delegation") return readActChain(payload.may_act)?.[0] === agentId;
  return introspectsAudience(policy, agentId, payload.aud);
}

/** A development token: its `azp` if it names one; otherwise any agent, if it is for the broker. */
function devHolder(azp: unknown, aud: unknown, issuer: string, agentId: string): boolean {
  if (azp !== undefined) return azp === agentId;
  return [aud].flat().includes(issuer);
}

/** The caller is an API's own client, and the access token's one `aud` is that API. */
function introspectsAudience(policy: Policy, agentId: string, aud: unknown): boolean {
  if (typeof aud !== "string") return false;
  const api = policy.apisByResource.get(aud);
  return api !== undefined && policy.agents.get(agentId)?.introspects.has(api.id) === true;
}

function reportedClaims(own: OwnToken): IntrospectionResponse {
  const response: Record<string, unknown> = { active: true };
  for (const claim of REPORTED) {
    if (own.payload[claim] !== undefined) response[claim] = own.payload[claim];
  }
  // RFC 7662 §2.2: token_type as in RFC 6749 §5.1; a delegation token and an ID-JAG are not
  // access tokens.
  response.token_type = own.kind === "delegation" || own.kind === "id_jag" ? "N_A" : "Bearer";
  return response as IntrospectionResponse;
}
