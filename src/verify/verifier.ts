/**
 * Verifies Baton's access tokens at an API (a resource server): RFC 9068 JWT access tokens,
 * RFC 6750 bearer refusals, and, when configured, RFC 7662 introspection so that revoked
 * tokens and ended tasks are refused at once.
 *
 * @module verify/verifier
 */

import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { ACCESS_TOKEN_TYP, BROKER_ALGORITHMS } from "../tokens/token-types.js";
import { readAccessClaims, type VerifiedToken } from "./access-claims.js";
import { BearerError } from "./bearer-error.js";
import { bearerToken } from "./bearer-token.js";
import { type Discover, discovery } from "./discovery.js";
import { type IntrospectionClient, requireActive } from "./introspection.js";

export type Algorithm = (typeof BROKER_ALGORITHMS)[number];

export interface VerifierOptions {
  /** Baton's issuer identifier, exactly as in `iss` (e.g. `http://127.0.0.1:8787`). */
  readonly issuer: string;
  /** This API's `resource` from the policy: the only `aud` accepted. */
  readonly audience: string;
  /** Default: `jwks_uri` from the issuer's RFC 8414 metadata. */
  readonly jwksUri?: string;
  /**
   * Ask the issuer, for every token, whether it is still active (revocation, ended tasks). The
   * client must be this API's own, with `introspects: [<API id>]` in Baton's policy (RFC 7662 §4).
   */
  readonly introspection?: IntrospectionClient;
  /** Allowed clock skew for `exp` and `iat`, in seconds. Default 5. */
  readonly clockTolerance?: number;
  /** Accepted signature algorithms, among EdDSA and ES256 (the default: both). */
  readonly algorithms?: readonly Algorithm[];
  /** Deadline of each request to the issuer, in milliseconds. Default 5000. */
  readonly timeoutMs?: number;
  /** The current time in epoch seconds; the system clock by default (tests pass their own). */
  readonly now?: () => number;
}

export interface VerifyOptions {
  /** Every one of these must be in the token's `scope`, else `insufficient_scope` (403). */
  readonly scopes?: readonly string[];
}

export interface Verifier {
  /**
   * Verifies the `Authorization` header value (`Bearer …`) or a bare token. Resolves with who
   * is asking, or rejects with a `BearerError` that renders the RFC 6750 refusal.
   */
  verify(headerOrToken: string | null | undefined, options?: VerifyOptions): Promise<VerifiedToken>;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const algorithms = [...(options.algorithms ?? BROKER_ALGORITHMS)];
  if (algorithms.some((a) => !(BROKER_ALGORITHMS as readonly string[]).includes(a)))
    throw new TypeError("algorithms: only EdDSA and ES256 are accepted");
  const timeoutMs = options.timeoutMs ?? 5_000;
  const clockTolerance = options.clockTolerance ?? 5;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const discover = discovery(options.issuer, timeoutMs);
  const keys = remoteKeys(options, discover, timeoutMs);

  return {
    async verify(headerOrToken, { scopes: required = [] } = {}) {
      const token = bearerToken(headerOrToken);
      const claims = await verifySignedClaims(token, keys, options, algorithms, {
        now: now(),
        clockTolerance,
      });
      const verified = readAccessClaims(claims);
      if (options.introspection) {
        const endpoint = options.introspection.endpoint ?? (await introspectionEndpoint(discover));
        await requireActive(endpoint, options.introspection, token, timeoutMs);
      }
      requireScopes(verified, required);
      return verified;
    },
  };
}

/**
 * RFC 9068 §4: `typ` is `at+jwt` (so Baton's delegation tokens, `delegation+jwt`, are never
 * accepted), `iss` exact, `aud` this API, a signature by the issuer's key with an allowed
 * algorithm (never `none`, never HMAC), `exp` in the future and `iat` present.
 */
async function verifySignedClaims(
  token: string,
  keys: JWTVerifyGetKey,
  options: VerifierOptions,
  algorithms: string[],
  time: { now: number; clockTolerance: number },
): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: options.issuer,
      audience: options.audience,
      typ: ACCESS_TOKEN_TYP,
      algorithms,
      requiredClaims: ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"],
      currentDate: new Date(time.now * 1000),
      clockTolerance: time.clockTolerance,
    });
    // RFC 9068 §2.2 allows several audiences; Baton issues exactly one (design §3.4). A token
    // that also names another API could be replayed between them: only this API, alone.
    if (Array.isArray(payload.aud) && payload.aud.length !== 1)
      throw new BearerError("invalid_token", "aud.several");
    // jose takes a missing `iat` as fine when required; an `iat` in the future is not.
    if (typeof payload.iat === "number" && payload.iat > time.now + time.clockTolerance)
      throw new BearerError("invalid_token", "iat.future");
    return payload;
  } catch (err) {
    if (err instanceof BearerError) throw err;
    throw new BearerError("invalid_token", joseReason(err));
  }
}

/** Scopes are compared exactly (RFC 6749 §3.3: case-sensitive strings). */
function requireScopes(verified: VerifiedToken, required: readonly string[]): void {
  const missing = required.filter((s) => !verified.scopes.includes(s));
  // RFC 6750 §3: `scope` names what the request needs, so the client can ask for it.
  if (missing.length > 0) throw new BearerError("insufficient_scope", "scope", required);
}

/**
 * The issuer's keys through jose: cached, refetched when a token names an unknown `kid` (a
 * rotated key) at most once per cooldown. An unreachable JWKS is 503, never "invalid token".
 */
function remoteKeys(options: VerifierOptions, discover: Discover, timeoutMs: number) {
  let jwks: JWTVerifyGetKey | undefined;
  const load = async () => {
    if (!jwks) {
      const uri = options.jwksUri ?? (await discover()).jwksUri;
      jwks = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: timeoutMs,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      });
    }
    return jwks;
  };
  const getKey: JWTVerifyGetKey = async (header, token) => {
    const keySet = await load();
    try {
      return await keySet(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
        throw err;
      throw new BearerError("temporarily_unavailable", "jwks.unreachable");
    }
  };
  return getKey;
}

async function introspectionEndpoint(discover: Discover): Promise<string> {
  const { introspectionEndpoint } = await discover();
  if (introspectionEndpoint === undefined)
    throw new BearerError("temporarily_unavailable", "discovery.no_introspection");
  return introspectionEndpoint;
}

/** A short name for why jose refused a token: for logs, never for the wire. */
function joseReason(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "exp";
  if (err instanceof errors.JWTClaimValidationFailed) return err.claim;
  if (err instanceof errors.JOSEAlgNotAllowed) return "alg";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "signature";
  if (err instanceof errors.JWKSNoMatchingKey) return "kid";
  if (err instanceof errors.JOSEError) return err.code.toLowerCase().replace(/^err_/, "");
  return "malformed";
}
