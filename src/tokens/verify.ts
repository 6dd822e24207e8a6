/**
 * Verifies JWTs: Baton's own (delegation and development tokens, access tokens at
 * introspection) and those of trusted issuers. One signature check per token.
 *
 * Every failure becomes the same `invalid_request` on the wire (RFC 8693 §2.2.2); the rule
 * names the cause for the audit log only.
 *
 * Where the keys come from (the ring, an issuer's JWKS, an agent's policy `jwks`) is
 * key-sources.ts; this module checks what every token must satisfy, whatever signed it.
 *
 * @module tokens/verify
 */

import { KeyObject } from "node:crypto";
import { errors, type JWTPayload } from "jose";
import { invalidToken, verifierRule } from "../errors.js";
import type { TrustedIssuer } from "../policy/types.js";
import { verifyJwt as checkJwt, type DecodedJwt, decodeJwt, JwsError } from "./jws.js";
import type { KeyRing } from "./key-ring.js";
import { agentKeys, asKeyObject, issuerKeys, type KeyLookup, ringKeys } from "./key-sources.js";
import { BROKER_ALGORITHMS, ID_JAG_TYP } from "./token-types.js";
import { VerifiedTokens } from "./verified-cache.js";

/** Verified JWT claims (the core reads them; only this folder imports jose). */
export type Claims = JWTPayload;

/** Longest token accepted, in characters: far above anything legitimate, far below abuse. */
export const MAX_TOKEN_LENGTH = 8192;

export interface ExpectedClaims {
  readonly issuer: string;
  /** Any one of these; undefined skips the check (the caller checks `aud` itself). */
  readonly audience?: string | readonly string[];
  /** Required JOSE header `typ`; undefined accepts any. */
  readonly typ?: string;
  readonly requiredClaims: readonly string[];
  /** Epoch seconds. */
  readonly now: number;
  /** Seconds `iat` may lie ahead of `now` (policy `broker.clock_skew`); by default the tolerance. */
  readonly iatTolerance?: number;
}

/** Reads `iss` without verifying anything: only to pick the verifier. */
export function peekIssuer(token: string, rule: string): string {
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(verifierRule(rule, "oversized"));
  try {
    const { iss } = decoded(token).payload;
    if (typeof iss === "string") return iss;
  } catch (cause) {
    throw invalidToken(verifierRule(rule, "malformed"), cause);
  }
  throw invalidToken(verifierRule(rule, "malformed"));
}

/** The JOSE `typ` header, unverified: only to tell Baton's own token kinds apart. */
export function peekTyp(token: string): string | undefined {
  try {
    const { typ } = decoded(token).header;
    return typeof typ === "string" ? typ : undefined;
  } catch {
    return undefined;
  }
}

/** The `aud` claim, unverified: only to tell Baton's own token kinds apart. */
export function peekAudience(token: string): unknown {
  try {
    return decoded(token).payload.aud;
  } catch {
    return undefined;
  }
}

/**
 * The last token decoded, so that the peek that picks a verifier and the verification that
 * follows it (in the same synchronous step) decode it once. Keyed by the whole token.
 */
let last: { token: string; jwt: DecodedJwt } | undefined;

function decoded(token: string): DecodedJwt {
  if (last?.token === token) return last.jwt;
  const jwt = decodeJwt(token);
  last = { token, jwt };
  return jwt;
}

/** Verifies a token signed by Baton's own keys. */
export function verifyBrokerJwt(
  token: string,
  keys: KeyRing,
  expected: ExpectedClaims,
  rule: string,
): Promise<JWTPayload> {
  const getKey = ringKeys(keys);
  // The ring's JWKS object changes whenever a key leaves it (or joins it): a new cache then.
  const published = keys.jwks();
  let cache = brokerCaches.get(published);
  if (!cache) {
    cache = new VerifiedTokens();
    brokerCaches.set(published, cache);
  }
  return verifyJwt(token, getKey, [...BROKER_ALGORITHMS], expected, 0, rule, cache);
}

/**
 * One cache per state of the key ring, keyed by the JWKS document the ring builds once per
 * load (KeyRing.jwks). A token verified before its key left the ring (withdrawn by `baton keys
 * withdraw`, or past its publication window after a rotation) is never answered from the cache
 * after the ring has been re-read: the next state starts empty, so the token goes through full
 * verification and its kid is not found. One WeakMap lookup per call; an old state's entries
 * go with its JWKS object.
 */
const brokerCaches = new WeakMap<object, VerifiedTokens>();

/** A verifier for one trusted issuer, built once per policy load (keys cached by jose). */
export type IssuerVerifier = (
  token: string,
  now: number,
  rule: string,
  /** Also accepted as `aud`, besides the issuer's configured audience. */
  extraAudiences?: readonly string[],
  /** Another kind of token than a subject token, checked against these instead (an ID-JAG). */
  kind?: TokenKindExpected,
) => Promise<JWTPayload>;

/**
 * What a token of the issuer other than a user's subject token must carry: an ID-JAG
 * (draft-ietf-oauth-identity-assertion-authz-grant §4.4.1) is addressed to Baton's issuer
 * itself, whatever audience the issuer's subject tokens name, and has its own `typ`.
 */
export interface TokenKindExpected {
  /** Replaces the issuer's configured audience (and any extra ones). */
  readonly audience: string;
  readonly typ: string;
  /** Required besides `sub`, `exp` and `iat`. */
  readonly requiredClaims: readonly string[];
}

/**
 * `clockSkew` (policy `broker.clock_skew`) is the grace on `iat`, `nbf` and `exp`. Beyond the
 * signature and the claims, the issuer's `max_token_lifetime` holds: `iat` is required, and a
 * token whose `exp` lies further ahead than that is refused (a stolen token that lives for
 * years is a credential nobody can take back).
 */
export function issuerVerifier(trusted: TrustedIssuer, clockSkew: number): IssuerVerifier {
  const getKey = issuerKeys(trusted);
  const algorithms = [...trusted.algorithms];
  // Built once per policy load: a reload that changes the issuer's keys starts afresh.
  const cache = new VerifiedTokens();
  return async (token, now, rule, extraAudiences = [], kind) => {
    // An ID-JAG is a grant for the JWT bearer grant alone (draft §3.1, RFC 8725 §3.11): never a
    // subject or actor token, even where its `aud` (Baton's issuer) would pass.
    if (kind === undefined && isIdJag(token)) throw invalidToken(verifierRule(rule, "claim.typ"));
    const audience =
      extraAudiences.length === 0 ? trusted.audience : [trusted.audience, ...extraAudiences];
    const claims = await verifyJwt(
      token,
      getKey,
      algorithms,
      {
        issuer: trusted.issuer,
        audience: kind ? kind.audience : audience,
        ...(kind ? { typ: kind.typ } : {}),
        requiredClaims: ["sub", "exp", "iat", ...(kind?.requiredClaims ?? [])],
        now,
      },
      clockSkew,
      rule,
      cache,
    );
    if ((claims.exp as number) - now > trusted.maxTokenLifetime) {
      throw invalidToken(verifierRule(rule, "lifetime"));
    }
    return claims;
  };
}

/** RFC 8725 §3.11: `typ` compared as a media type (case-insensitive, `application/` optional). */
function isIdJag(token: string): boolean {
  return (
    peekTyp(token)
      ?.toLowerCase()
      .replace(/^application\//, "") === ID_JAG_TYP
  );
}

/** Algorithms accepted from agents' own keys: asymmetric only, never `none` or HMAC. */
const AGENT_ALGORITHMS = ["EdDSA", "ES256", "ES384", "PS256", "RS256"];

/**
 * Verifies a JWT an agent signed with a key of its policy `jwks`: a `private_key_jwt` client
 * assertion (RFC 7523 §3) or a self-signed actor token. `jti` and `exp` are required.
 */
export function verifyAgentJwt(
  token: string,
  jwks: { readonly keys: readonly object[] },
  expected: {
    issuer: string;
    audience: string | readonly string[];
    now: number;
    /** Policy `broker.clock_skew`: the grace on `iat`, `nbf` and `exp`. */
    clockSkew: number;
  },
  rule: string,
): Promise<JWTPayload> {
  const getKey = agentKeys(jwks);
  const { clockSkew, ...claims } = expected;
  return verifyJwt(
    token,
    getKey,
    AGENT_ALGORITHMS,
    { ...claims, requiredClaims: ["sub", "exp", "jti"] },
    clockSkew,
    rule,
  );
}

async function verifyJwt(
  token: string,
  getKey: KeyLookup,
  algorithms: string[],
  expected: ExpectedClaims,
  clockTolerance: number,
  rule: string,
  cache?: VerifiedTokens,
): Promise<JWTPayload> {
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(verifierRule(rule, "oversized"));
  // What the token was checked against is part of the key: the same token verified for another
  // audience or typ is a different question.
  const key =
    cache &&
    `${expected.issuer}|${[expected.audience ?? ""].flat().join(" ")}|${expected.typ ?? ""}|${expected.requiredClaims.join(" ")}|${token}`;
  const known = key === undefined ? undefined : cache?.get(key, expected.now, clockTolerance);
  if (known) return known;
  try {
    const jwt = decoded(token);
    // The algorithm is judged before any key is looked up (or any JWKS fetched) for it.
    if (!algorithms.includes(jwt.header.alg)) throw new JwsError("alg");
    const found = getKey(jwt.header);
    const verificationKey = asKeyObject(found instanceof KeyObject ? found : await found);
    const payload = checkJwt(jwt, verificationKey, {
      algorithms,
      issuer: expected.issuer,
      ...(expected.audience === undefined ? {} : { audience: [expected.audience].flat() }),
      ...(expected.typ === undefined ? {} : { typ: expected.typ }),
      requiredClaims: expected.requiredClaims,
      now: expected.now,
      clockTolerance,
      iatTolerance: expected.iatTolerance ?? clockTolerance,
    }) as JWTPayload;
    if (key !== undefined) cache?.set(key, payload, expected.now);
    return payload;
  } catch (cause) {
    throw invalidToken(verifierRule(rule, refusalRule(cause)), cause);
  }
}

/** A short audit name for why a token was refused. */
function refusalRule(err: unknown): string {
  if (err instanceof JwsError) return err.reason;
  if (err instanceof errors.JWKSNoMatchingKey) return "kid";
  if (err instanceof errors.JOSEError) return err.code.toLowerCase().replace(/^err_/, "");
  return "unverifiable";
}
