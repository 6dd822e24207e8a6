/**
 * Verifies the subject token and reads what the exchange needs from it.
 *
 * Three sources, picked by `iss`: Baton's own delegation tokens, the development issuer, and
 * the trusted issuers of the policy. An access token Baton issued for an API is never
 * accepted back (rule 3): it fails the delegation token's `typ` and `aud` checks.
 *
 * @module exchange/steps/verify-subject
 */

import { invalidRequest, invalidToken } from "../../errors.js";
import { readActChain } from "../../tokens/act.js";
import { DELEGATION_TOKEN_TYP, DEV_TOKEN_TYP, TOKEN_TYPE } from "../../tokens/token-types.js";
import { type Claims, peekIssuer, verifyBrokerJwt } from "../../tokens/verify.js";
import { devIssuerOf, mcpResourceOf } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";
import { type Ancestry, readAncestry } from "./lineage.js";
import { isSessionToken, verifySessionToken } from "./verify-id-jag-session.js";

/** `session`: Baton's own token for its `/mcp` resource (verify-id-jag-session.ts). */
export type SubjectSource = "delegation" | "dev" | "issuer" | "session";

export interface Subject {
  readonly source: SubjectSource;
  readonly sub: string;
  /** Prior actors, current first (RFC 8693 §4.1). Empty for a user's own token. */
  readonly chain: readonly string[];
  /** The scopes the subject token bounds the result to; undefined when it does not bound. */
  readonly scopes?: ReadonlySet<string>;
  readonly exp: number;
  readonly jti?: string;
  /** The agent the token names as its holder (`azp` / `client_id`), if any. */
  readonly holder?: string;
  /** The only agent that may exchange it (`may_act`, RFC 8693 §4.4): always set on a delegation token. */
  readonly mayAct?: string;
  readonly txn?: string;
  /**
   * Baton's own token (a delegation or `/mcp` session token): the ancestors it names in its
   * claims (lineage.ts); absent on one issued before they did, and on a user's token.
   */
  readonly ancestry?: Ancestry;
}

/** Subject token types accepted for a user's token (from the dev issuer or a trusted issuer). */
const USER_TOKEN_TYPES: ReadonlySet<string> = new Set([
  TOKEN_TYPE.accessToken,
  TOKEN_TYPE.jwt,
  TOKEN_TYPE.idToken,
]);

/**
 * Verifies a subject token. `userAudiences` is what a user's token (development or trusted
 * issuer) may carry as `aud`; by default the broker's own names (the issuer or the development
 * issuer's audience, and the MCP resource).
 */
export async function verifySubject(
  deps: ExchangeDeps,
  token: string,
  tokenType: string,
  now: number,
  userAudiences?: readonly string[],
): Promise<Subject> {
  const iss = peekIssuer(token, "subject");
  const { policy, issuerVerifiers } = deps.active();

  if (iss === deps.issuer) {
    // The JWT bearer grant's token for `/mcp`: a user's token for Baton, not for an API.
    if (isSessionToken(token, deps.issuer)) {
      return verifySessionToken(deps, token, tokenType, now, userAudiences);
    }
    // A delegation token is issued as the jwt type and must be presented as such.
    if (tokenType !== TOKEN_TYPE.jwt) throw unsupportedType();
    const payload = await verifyBrokerJwt(
      token,
      deps.keys,
      {
        issuer: deps.issuer,
        audience: deps.issuer,
        typ: DELEGATION_TOKEN_TYP,
        requiredClaims: ["sub", "exp", "jti", "act", "may_act", "scope"],
        now,
        iatTolerance: policy.broker.clockSkew,
      },
      "subject",
    );
    return delegationSubject(payload);
  }

  if (!USER_TOKEN_TYPES.has(tokenType)) throw unsupportedType();

  if (iss === devIssuerOf(deps.issuer)) {
    if (!policy.broker.devIssuer) throw invalidToken("subject.dev_issuer_off");
    const payload = await verifyBrokerJwt(
      token,
      deps.keys,
      {
        issuer: iss,
        audience: userAudiences ?? [deps.issuer, mcpResourceOf(deps.issuer)],
        typ: DEV_TOKEN_TYP,
        requiredClaims: ["sub", "exp", "jti"],
        now,
        iatTolerance: policy.broker.clockSkew,
      },
      "subject",
    );
    return userSubject("dev", payload, typeof payload.scope === "string");
  }

  const verify = issuerVerifiers.get(iss);
  const trusted = policy.issuers.get(iss);
  if (!verify || !trusted) throw invalidToken("subject.untrusted_issuer");
  const claims = userAudiences
    ? await verify(token, now, "subject", userAudiences).then(requireAudience(userAudiences))
    : await verify(token, now, "subject", [mcpResourceOf(deps.issuer)]);
  return userSubject("issuer", claims, trusted.scopesBound);
}

/** When the audiences are given, the issuer's own configured one no longer counts alone. */
function requireAudience(audiences: readonly string[]) {
  return (claims: Claims): Claims => {
    const aud = [claims.aud ?? []].flat();
    if (!aud.some((a) => audiences.includes(a))) throw invalidToken("subject.claim.aud");
    return claims;
  };
}

function unsupportedType() {
  return invalidRequest('"subject_token_type" is not supported for this token', "subject.type");
}

function delegationSubject(payload: Claims): Subject {
  const chain = readActChain(payload.act);
  const mayAct = readActChain(payload.may_act);
  if (!chain || chain.length === 0 || !mayAct || mayAct.length !== 1) {
    throw invalidToken("subject.claims");
  }
  return {
    source: "delegation",
    sub: requireString(payload.sub),
    chain,
    scopes: new Set(splitScope(payload.scope)),
    exp: payload.exp as number,
    jti: requireString(payload.jti),
    mayAct: mayAct[0] as string,
    ...(typeof payload.txn === "string" ? { txn: payload.txn } : {}),
    ...ancestryOf(payload),
  };
}

/** The `ancestry` field of Baton's own subject token, when its claims carry one. */
export function ancestryOf(payload: Claims): { ancestry?: Ancestry } {
  const ancestry = readAncestry(payload);
  return ancestry ? { ancestry } : {};
}

function userSubject(source: SubjectSource, payload: Claims, scopesBound: boolean): Subject {
  // A user's token may itself be delegated already (an outside `act`): the chain is kept.
  const chain = payload.act === undefined ? [] : readActChain(payload.act);
  if (!chain) throw invalidToken("subject.claims");
  const holder = holderOf(payload);
  // RFC 8693 §4.4: a `may_act` in the subject token names who may act for its subject.
  const mayAct = payload.may_act === undefined ? [] : readActChain(payload.may_act);
  if (!mayAct || mayAct.length > 1) throw invalidToken("subject.claims");
  return {
    source,
    sub: requireString(payload.sub),
    chain,
    ...(scopesBound ? { scopes: new Set(splitScope(payload.scope)) } : {}),
    exp: payload.exp as number,
    ...(typeof payload.jti === "string" ? { jti: payload.jti } : {}),
    ...(holder === undefined ? {} : { holder }),
    ...(mayAct[0] === undefined ? {} : { mayAct: mayAct[0] }),
  };
}

/** The agent a token names as its holder; `azp` and `client_id` must not disagree. */
function holderOf(payload: Claims): string | undefined {
  const { azp, client_id } = payload;
  for (const value of [azp, client_id]) {
    if (value !== undefined && (typeof value !== "string" || value === ""))
      throw invalidToken("subject.claims");
  }
  if (azp !== undefined && client_id !== undefined && azp !== client_id)
    throw invalidToken("subject.holder_conflict");
  return (azp ?? client_id) as string | undefined;
}

function requireString(value: unknown): string {
  if (typeof value !== "string" || value.length === 0) throw invalidToken("subject.claims");
  return value;
}

/** RFC 8693 §4.2: `scope` is a space-separated string. Anything else bounds to nothing. */
function splitScope(scope: unknown): string[] {
  return typeof scope === "string" ? scope.split(" ").filter((s) => s !== "") : [];
}
