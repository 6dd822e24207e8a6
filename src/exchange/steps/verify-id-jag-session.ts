/**
 * Baton's own token for its MCP resource, which the JWT bearer grant issues when an ID-JAG's
 * `resource` is `<issuer>/mcp` (operations/redeem-id-jag.ts): how an enterprise MCP client
 * whose IdP issues ID-JAGs reaches `/mcp` with no login (MCP Enterprise-Managed Authorization).
 *
 * It is a user's token for Baton, as an outside issuer's token for `/mcp` is (urls.ts
 * `mcpResourceOf`): the bearer at `/mcp` and the session's subject token, naming its holder in
 * `client_id`. Unlike an outside token it is Baton's, so it has a lineage: revoking it revokes
 * every token the session obtained with it (rule 7). An access token for an API is never
 * accepted here (rule 3): its `aud` is the API's.
 *
 * @module exchange/steps/verify-id-jag-session
 */

import { invalidRequest, invalidToken } from "../../errors.js";
import { readActChain } from "../../tokens/act.js";
import { ACCESS_TOKEN_TYP, TOKEN_TYPE } from "../../tokens/token-types.js";
import { peekAudience, peekTyp, verifyBrokerJwt } from "../../tokens/verify.js";
import { mcpResourceOf } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";
import { ancestryOf, type Subject } from "./verify-subject.js";

/** The token types a user's token may be presented as (verify-subject.ts). */
const USER_TOKEN_TYPES: ReadonlySet<string> = new Set([
  TOKEN_TYPE.accessToken,
  TOKEN_TYPE.jwt,
  TOKEN_TYPE.idToken,
]);

/** Unverified: whether a token of Baton's issuer claims to be its `/mcp` session token. */
export function isSessionToken(token: string, issuer: string): boolean {
  return peekTyp(token) === ACCESS_TOKEN_TYP && peekAudience(token) === mcpResourceOf(issuer);
}

/**
 * Verifies the session token as a subject. `userAudiences`, when given, is what the caller
 * accepts as `aud` (verify-subject.ts): the MCP resource must be one of them.
 */
export async function verifySessionToken(
  deps: ExchangeDeps,
  token: string,
  tokenType: string,
  now: number,
  userAudiences?: readonly string[],
): Promise<Subject> {
  if (!USER_TOKEN_TYPES.has(tokenType)) {
    throw invalidRequest('"subject_token_type" is not supported for this token', "subject.type");
  }
  const mcp = mcpResourceOf(deps.issuer);
  // The approval page's sign-in asks for its own audience: a session token never signs in.
  if (userAudiences !== undefined && !userAudiences.includes(mcp)) {
    throw invalidToken("subject.claim.aud");
  }
  const payload = await verifyBrokerJwt(
    token,
    deps.keys,
    {
      issuer: deps.issuer,
      audience: mcp,
      typ: ACCESS_TOKEN_TYP,
      requiredClaims: ["sub", "exp", "jti", "client_id", "scope"],
      now,
      iatTolerance: deps.active().policy.broker.clockSkew,
    },
    "subject",
  );
  const chain = payload.act === undefined ? [] : readActChain(payload.act);
  const { sub, jti, client_id: holder, scope } = payload;
  if (
    !chain ||
    !nonEmpty(sub) ||
    !nonEmpty(jti) ||
    !nonEmpty(holder) ||
    typeof scope !== "string"
  ) {
    throw invalidToken("subject.claims");
  }
  return {
    source: "session",
    sub,
    chain,
    // Rule 1: a broker token always bounds what it yields.
    scopes: new Set(scope.split(" ").filter((s) => s !== "")),
    exp: payload.exp as number,
    jti,
    holder,
    ...ancestryOf(payload),
  };
}

const nonEmpty = (value: unknown): value is string => typeof value === "string" && value !== "";
