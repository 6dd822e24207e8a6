/**
 * RFC 7662 token introspection, with `act`, `may_act` and `txn` (RFC 8693 §7.4).
 *
 * @module exchange/introspect
 */

import { anyRevoked } from "./lineage.js";
import { verifyOwnToken } from "./own-token.js";
import type { Caller, ExchangeDeps } from "./types.js";

export type IntrospectionResponse =
  | { active: false }
  | ({ active: true } & Record<string, unknown>);

/** Claims copied into the response (RFC 7662 §2.2, RFC 8693 §7.4). */
const REPORTED = [
  "iss",
  "sub",
  "aud",
  "client_id",
  "scope",
  "exp",
  "iat",
  "jti",
  "act",
  "may_act",
  "txn",
];

export async function introspectToken(
  deps: ExchangeDeps,
  token: string,
  caller: Caller,
): Promise<IntrospectionResponse> {
  const now = deps.clock.now();
  const own = await verifyOwnToken(deps, token, now);
  // Rule 7: revoked if it, or anything it was derived from, is revoked.
  const active = own !== undefined && !(await anyRevoked(deps.store, own.lineage));
  deps.audit.record({
    type: "token.introspected",
    by: caller.agentId,
    active,
    ...(own ? { jti: own.payload.jti as string } : {}),
  });
  if (!own || !active) return { active: false };

  const response: Record<string, unknown> = { active: true };
  for (const claim of REPORTED) {
    if (own.payload[claim] !== undefined) response[claim] = own.payload[claim];
  }
  // RFC 7662 §2.2: token_type as in RFC 6749 §5.1; a delegation token is not an access token.
  response.token_type = own.kind === "delegation" ? "N_A" : "Bearer";
  return response as IntrospectionResponse;
}
