/**
 * The actor token, when one is sent (RFC 8693 §2.1). The actor is always the authenticated
 * agent: an actor token may only confirm that, never name someone else.
 *
 * Accepted: a JWT the agent signed itself with a key of its policy `jwks` (`iss` = `sub` = the
 * agent id, `aud` = the broker), or a token from a trusted issuer whose `sub` is the agent id.
 * Either way it is single-use: its `jti` is spent for the token's lifetime, as a client
 * assertion's is (RFC 7523 §3 (7)), so a captured actor token cannot be played again.
 *
 * @module exchange/steps/actor
 */

import { invalidRequest, invalidToken } from "../../errors.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { type Claims, peekIssuer, verifyAgentJwt } from "../../tokens/verify.js";
import type { ExchangeDeps } from "../types.js";

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

  const clockSkew = policy.broker.clockSkew;
  let claims: Claims;
  if (iss === agentId && agent?.jwks) {
    claims = await verifyAgentJwt(
      token,
      agent.jwks,
      { issuer: agentId, audience: deps.issuer, now, clockSkew },
      "actor",
    );
    // Like a client assertion: short-lived, so that its spent `jti` need not be kept for long.
    if ((claims.exp as number) - now > MAX_SELF_SIGNED_LIFETIME) {
      throw invalidToken("actor.lifetime");
    }
  } else {
    const verify = issuerVerifiers.get(iss);
    if (!verify) throw invalidToken("actor.untrusted_issuer");
    claims = await verify(token, now, "actor");
  }
  if (claims.sub !== agentId) throw invalidToken("actor.not_caller");
  // Accepted until `exp` + the skew: remembered until then.
  await spendOnce(deps, iss, claims, now - clockSkew);
}

/** Longest a self-signed actor token may live, as for a client assertion. */
const MAX_SELF_SIGNED_LIFETIME = 600;

/**
 * Marks the token's `jti` used, atomically across every node, until it has expired (plus the
 * skew it is accepted with). A second use, or a token without `jti`, is refused.
 */
async function spendOnce(
  deps: ExchangeDeps,
  iss: string,
  claims: Claims,
  /** `now` less the skew: the token is accepted while `exp` lies after this. */
  earliest: number,
): Promise<void> {
  const { jti, exp } = claims;
  if (typeof jti !== "string" || jti === "" || jti.length > 256) throw invalidToken("actor.jti");
  const keepMs = (Math.max((exp as number) - earliest, 0) + 60) * 1000;
  // Keyed by issuer too: two issuers' `jti` spaces are unrelated.
  const fresh = await deps.store.add(`actor-jti:${iss}:${jti}`, exp as number, keepMs);
  if (!fresh) throw invalidToken("actor.replay");
}
