/**
 * Verifies JWTs: Baton's own (delegation and development tokens, access tokens at
 * introspection) and those of trusted issuers. One signature check per token.
 *
 * Every failure becomes the same `invalid_request` on the wire (RFC 8693 §2.2.2); the rule
 * names the cause for the audit log only.
 *
 * @module tokens/verify
 */

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { invalidToken } from "../errors.js";
import type { TrustedIssuer } from "../policy/types.js";
import type { KeyRing } from "./key-ring.js";
import { BROKER_ALGORITHMS } from "./token-types.js";
import { VerifiedTokens } from "./verified-cache.js";

/** Verified JWT claims (the core reads them; only this folder imports jose). */
export type Claims = JWTPayload;

/** Longest token accepted, in characters: far above anything legitimate, far below abuse. */
export const MAX_TOKEN_LENGTH = 8192;

/** Allowed clock skew for other parties' `nbf`/`iat`/`exp` (seconds). */
const OUTSIDE_CLOCK_TOLERANCE = 30;

export interface ExpectedClaims {
  readonly issuer: string;
  /** Any one of these; undefined skips the check (the caller checks `aud` itself). */
  readonly audience?: string | readonly string[];
  /** Required JOSE header `typ`; undefined accepts any. */
  readonly typ?: string;
  readonly requiredClaims: readonly string[];
  /** Epoch seconds. */
  readonly now: number;
}

/** Reads `iss` without verifying anything: only to pick the verifier. */
export function peekIssuer(token: string, rule: string): string {
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(`${rule}.oversized`);
  try {
    const { iss } = decodeJwt(token);
    if (typeof iss === "string") return iss;
  } catch (cause) {
    throw invalidToken(`${rule}.malformed`, cause);
  }
  throw invalidToken(`${rule}.malformed`);
}

/** The JOSE `typ` header, unverified: only to tell Baton's own token kinds apart. */
export function peekTyp(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).typ;
  } catch {
    return undefined;
  }
}

/** Verifies a token signed by Baton's own keys. */
export function verifyBrokerJwt(
  token: string,
  keys: KeyRing,
  expected: ExpectedClaims,
  rule: string,
): Promise<JWTPayload> {
  const getKey = async (header: { kid?: string }) => {
    const key = header.kid === undefined ? undefined : await keys.findVerificationKey(header.kid);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };
  let cache = brokerCaches.get(keys);
  if (!cache) {
    cache = new VerifiedTokens();
    brokerCaches.set(keys, cache);
  }
  return verifyJwt(token, getKey, [...BROKER_ALGORITHMS], expected, 0, rule, cache);
}

/** One cache per key ring: a key leaves the ring only once every token it signed has expired. */
const brokerCaches = new WeakMap<KeyRing, VerifiedTokens>();

/** A verifier for one trusted issuer, built once per policy load (keys cached by jose). */
export type IssuerVerifier = (
  token: string,
  now: number,
  rule: string,
  /** Also accepted as `aud`, besides the issuer's configured audience. */
  extraAudiences?: readonly string[],
) => Promise<JWTPayload>;

export function issuerVerifier(trusted: TrustedIssuer): IssuerVerifier {
  const getKey: JWTVerifyGetKey = trusted.jwksUri
    ? // jose caches the JWKS, refetches on an unknown kid at most once per cooldown.
      withFailureCooldown(
        createRemoteJWKSet(new URL(trusted.jwksUri), {
          cooldownDuration: JWKS_COOLDOWN_MS,
          cacheMaxAge: 10 * 60_000,
          timeoutDuration: 5_000,
        }),
      )
    : createLocalJWKSet({ keys: (trusted.jwks?.keys ?? []) as never[] });
  const algorithms = [...trusted.algorithms];
  // Built once per policy load: a reload that changes the issuer's keys starts afresh.
  const cache = new VerifiedTokens();
  return (token, now, rule, extraAudiences = []) =>
    verifyJwt(
      token,
      getKey,
      algorithms,
      {
        issuer: trusted.issuer,
        audience:
          extraAudiences.length === 0 ? trusted.audience : [trusted.audience, ...extraAudiences],
        requiredClaims: ["sub", "exp"],
        now,
      },
      OUTSIDE_CLOCK_TOLERANCE,
      rule,
      cache,
    );
}

/** Algorithms accepted from agents' own keys: asymmetric only, never `none` or HMAC. */
const AGENT_ALGORITHMS = ["EdDSA", "ES256", "ES384", "PS256", "RS256"];

/** One key set per policy `jwks` object, so keys are imported once, not per request. */
const agentKeySets = new WeakMap<object, JWTVerifyGetKey>();

/**
 * Verifies a JWT an agent signed with a key of its policy `jwks`: a `private_key_jwt` client
 * assertion (RFC 7523 §3) or a self-signed actor token. `jti` and `exp` are required.
 */
export function verifyAgentJwt(
  token: string,
  jwks: { readonly keys: readonly object[] },
  expected: { issuer: string; audience: string | readonly string[]; now: number },
  rule: string,
): Promise<JWTPayload> {
  let getKey = agentKeySets.get(jwks);
  if (!getKey) {
    getKey = createLocalJWKSet({ keys: jwks.keys as never[] });
    agentKeySets.set(jwks, getKey);
  }
  return verifyJwt(
    token,
    getKey,
    AGENT_ALGORITHMS,
    { ...expected, requiredClaims: ["sub", "exp", "jti"] },
    OUTSIDE_CLOCK_TOLERANCE,
    rule,
  );
}

/** Least time between two fetches of an issuer's JWKS caused by tokens. */
const JWKS_COOLDOWN_MS = 30_000;

/**
 * jose's cooldown starts only after a successful fetch, so while an issuer's JWKS is down every
 * token naming it would cause an outbound request. After a failed fetch, fail fast until the
 * cooldown has passed: a flood of tokens cannot turn the broker into a request amplifier.
 */
function withFailureCooldown(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  let failedAt = Number.NEGATIVE_INFINITY;
  return async (header, token) => {
    if (Date.now() - failedAt < JWKS_COOLDOWN_MS) throw new errors.JWKSNoMatchingKey();
    try {
      return await getKey(header, token);
    } catch (err) {
      const keyMissing =
        err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys;
      if (!keyMissing) failedAt = Date.now();
      throw err;
    }
  };
}

async function verifyJwt(
  token: string,
  getKey: JWTVerifyGetKey,
  algorithms: string[],
  expected: ExpectedClaims,
  clockTolerance: number,
  rule: string,
  cache?: VerifiedTokens,
): Promise<JWTPayload> {
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(`${rule}.oversized`);
  // What the token was checked against is part of the key: the same token verified for another
  // audience or typ is a different question.
  const key =
    cache &&
    `${expected.issuer}|${[expected.audience ?? ""].flat().join(" ")}|${expected.typ ?? ""}|${expected.requiredClaims.join(" ")}|${token}`;
  const known = key === undefined ? undefined : cache?.get(key, expected.now, clockTolerance);
  if (known) return known;
  try {
    const { payload } = await jwtVerify(token, getKey, {
      issuer: expected.issuer,
      ...(expected.audience === undefined
        ? {}
        : {
            audience:
              typeof expected.audience === "string" ? expected.audience : [...expected.audience],
          }),
      algorithms,
      requiredClaims: [...expected.requiredClaims],
      currentDate: new Date(expected.now * 1000),
      clockTolerance,
      ...(expected.typ === undefined ? {} : { typ: expected.typ }),
    });
    if (key !== undefined) cache?.set(key, payload, expected.now);
    return payload;
  } catch (cause) {
    throw invalidToken(`${rule}.${joseRule(cause)}`, cause);
  }
}

/** A short audit name for why jose refused a token. */
function joseRule(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `claim.${err.claim}`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "alg";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "signature";
  if (err instanceof errors.JWKSNoMatchingKey) return "kid";
  if (err instanceof errors.JOSEError) return err.code.toLowerCase().replace(/^err_/, "");
  return "unverifiable";
}
