/**
 * Bearer authentication of the MCP endpoint (MCP authorization 2025-11-25, RFC 6750): the
 * token must be a user's token issued for Baton's MCP resource (audience checked), naming the
 * agent it was issued to (`azp` or `client_id`). Its `sub` is the session's user; its agent is
 * the caller. It is never forwarded anywhere: inside the session it is the default subject.
 *
 * @module exchange/operations/authenticate-bearer
 */

import { BatonError, invalidBearer, invalidToken } from "../../errors.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { mcpResourceOf } from "../../urls.js";
import { anyRevoked, subjectLineage } from "../steps/lineage.js";
import { verifySubject } from "../steps/verify-subject.js";
import type { Caller, ExchangeDeps } from "../types.js";

export interface BearerSession extends Caller {
  readonly sessionSubject: string;
  /** When the bearer token expires (epoch seconds). */
  readonly exp: number;
}

/** The caller a bearer token stands for; throws `invalid_token` (401) for any failure. */
export async function authenticateBearer(
  deps: ExchangeDeps,
  token: string,
): Promise<BearerSession> {
  try {
    const now = deps.clock.now();
    const subject = await verifySubject(deps, token, TOKEN_TYPE.accessToken, now, [
      mcpResourceOf(deps.issuer),
    ]);
    const agent =
      subject.holder === undefined ? undefined : deps.active().policy.agents.get(subject.holder);
    if (!agent || agent.disabled) throw invalidToken("bearer.agent");
    const lineage = await subjectLineage(deps.store, subject);
    if (!lineage || (await anyRevoked(deps.store, lineage))) throw invalidToken("bearer.revoked");
    return { agentId: agent.id, sessionSubject: subject.sub, exp: subject.exp };
  } catch (err) {
    if (err instanceof BatonError && err.code === "temporarily_unavailable") throw err;
    // RFC 6750 §3.1: one answer for every failure of the token itself.
    throw invalidBearer(err instanceof BatonError ? err.rule : "bearer.invalid", err);
  }
}
