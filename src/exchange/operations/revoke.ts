/**
 * RFC 7009 revocation, cascading (rule 7): marking one token revoked makes every token
 * derived from it inactive, because each one's lineage names it.
 *
 * @module exchange/operations/revoke
 */

import { notRevoker } from "../../errors.js";
import { readActChain } from "../../tokens/act.js";
import { anyRevoked, markRevoked } from "../steps/lineage.js";
import { type OwnToken, verifyOwnToken } from "../steps/verify-issued-token.js";
import type { Caller, ExchangeDeps } from "../types.js";

/**
 * Revokes `token` and its descendants. RFC 7009 §2.2: an invalid or unknown token is not an
 * error (the result is `false`), nor is one already revoked, by itself or through an ancestor
 * (`false` too: nothing left to revoke, and its first revocation keeps its time). A valid
 * token the caller has no part in is refused.
 */
export async function revokeToken(
  deps: ExchangeDeps,
  token: string,
  caller: Caller,
): Promise<boolean> {
  const now = deps.clock.now();
  const own = await verifyOwnToken(deps, token, now);
  if (!own) return false;
  if (!mayRevoke(own, caller.agentId)) {
    // RFC 7009 §2.1: the server checks the token was issued to the requesting client.
    throw notRevoker(revokers(own));
  }
  if (await anyRevoked(deps.store, own.lineage)) return false;
  await markRevoked(deps.store, own.id, own.payload.exp as number, now);
  deps.audit.record({
    type: "token.revoked",
    jti: own.payload.jti as string,
    by: caller.agentId,
    ...(typeof own.payload.sub === "string" ? { subject: own.payload.sub } : {}),
  });
  await deps.audit.written();
  return true;
}

/**
 * Who may revoke: the agent it was issued to, any agent in its chain (a parent may cut off
 * its sub-agents), the agent a delegation token is for, or the holder of a development token.
 * An ID-JAG's `client_id` names a client of an outside server, not an agent: its chain
 * (which always starts with the agent it was issued to) alone counts.
 */
function mayRevoke(own: OwnToken, agentId: string): boolean {
  return own.kind === "dev"
    ? own.payload.azp === undefined || own.payload.azp === agentId
    : revokers(own).includes(agentId);
}

/** The agents `mayRevoke` lets revoke the token: the facts of its refusal (rule 7). */
function revokers(own: OwnToken): string[] {
  const { payload } = own;
  const named =
    own.kind === "dev"
      ? [payload.azp]
      : [
          own.kind === "id_jag" ? undefined : payload.client_id,
          ...(readActChain(payload.act) ?? []),
          readActChain(payload.may_act)?.[0],
        ];
  return [...new Set(named.filter((id): id is string => typeof id === "string"))];
}
