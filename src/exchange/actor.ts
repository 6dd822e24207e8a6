/**
 * The actor token, when one is sent (RFC 8693 §2.1). The actor is always the authenticated
 * agent: an actor token may only confirm that, never name someone else.
 *
 * Accepted: a JWT the agent signed itself with a key of its policy `jwks` (`iss` = `sub` = the
 * agent id, `aud` = the broker), or a token from a trusted issuer whose `sub` is the agent id.
 *
 * @module exchange/actor
 */

import { invalidRequest, invalidToken } from "../errors.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";
import { peekIssuer, verifyAgentJwt } from "../tokens/verify.js";
import type { ExchangeDeps } from "./types.js";

const ACTOR_TOKEN_TYPES: ReadonlySet<string> = new Set([
  TOKEN_TYPE.jwt,
  TOKEN_TYPE.accessToken,
  TOKEN_TYPE.idToken,
]);

export async function verifyActor(
  deps: ExchangeDeps,
  agentId: string,
  token: string,
  tokenType: string,
  now: number,
): Promise<void> {
  if (!ACTOR_TOKEN_TYPES.has(tokenType)) {
    throw invalidRequest('"actor_token_type" is not supported', "actor.type");
  }
  const iss = peekIssuer(token, "actor");
  const { policy, issuerVerifiers } = deps.active();
  const agent = policy.agents.get(agentId);

  let sub: unknown;
  if (iss === agentId && agent?.jwks) {
    sub = (
      await verifyAgentJwt(
        token,
        agent.jwks,
        { issuer: agentId, audience: deps.issuer, now },
        "actor",
      )
    ).sub;
  } else {
    const verify = issuerVerifiers.get(iss);
    if (!verify) throw invalidToken("actor.untrusted_issuer");
    sub = (await verify(token, now, "actor")).sub;
  }
  if (sub !== agentId) throw invalidToken("actor.not_caller");
}
