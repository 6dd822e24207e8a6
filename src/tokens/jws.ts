/**
 * Compact JWS (RFC 7515 §7.1) signing and verification of JWTs on `node:crypto`, synchronously.
 *
 * Why not jose for this step (issue 7): jose 6 runs every signature through WebCrypto, which
 * hands it to the libuv pool and back: on a busy single core that hop, and jose's generic JSON
 * and claim handling around it, cost more than the signature itself (docs/performance.md).
 * A one-shot `crypto.sign`/`crypto.verify` on a `KeyObject` does the same mathematics with
 * none of that. jose still does everything else: key generation, JWK import and export,
 * remote JWKS sets.
 *
 * The checks follow jose's `jwtVerify` (so that the refusals, and their audit names, stay the
 * same) and are stricter where jose is lenient: no `crit` or `b64` header at all, canonical
 * base64url only, finite numeric dates, the key's type and size matched to `alg`
 * (RFC 7518 §3.1; RFC 8037 §3.1 for EdDSA).
 *
 * @module tokens/jws
 */

import { constants, type KeyObject, sign, verify } from "node:crypto";

/** What a JWS algorithm needs from `node:crypto`, and which keys may carry it. */
interface AlgorithmSpec {
  /** The digest, or null where the algorithm hashes internally (Ed25519, Ed448). */
  readonly hash: string | null;
  readonly keyTypes: readonly string[];
  /** ECDSA: the curve, and the fixed R || S signature length (RFC 7518 §3.4). */
  readonly curve?: string;
  readonly signatureBytes?: number;
  readonly pss?: boolean;
}

const rsa = (bits: number, pss = false): AlgorithmSpec => ({
  hash: `sha${bits}`,
  keyTypes: pss ? ["rsa", "rsa-pss"] : ["rsa"],
  pss,
});
const ec = (bits: number, curve: string, signatureBytes: number): AlgorithmSpec => ({
  hash: `sha${bits}`,
  keyTypes: ["ec"],
  curve,
  signatureBytes,
});

const ALGORITHMS: Readonly<Record<string, AlgorithmSpec>> = {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: rsa(256, true),
  PS384: rsa(384, true),
  PS512: rsa(512, true),
  ES256: ec(256, "prime256v1", 64),
  ES384: ec(384, "secp384r1", 96),
  ES512: ec(512, "secp521r1", 132),
  EdDSA: { hash: null, keyTypes: ["ed25519", "ed448"] },
};

/** RFC 7518 §3.3, §3.5: an RSA key of at least 2048 bits. */
const MIN_RSA_BITS = 2048;

/** A refusal; `reason` is the short audit name (`signature`, `claim.aud`, `expired`, …). */
export class JwsError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`JWT refused: ${reason}`);
    this.reason = reason;
  }
}

export type JoseHeader = Readonly<Record<string, unknown>> & {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
};
export type ClaimsSet = Record<string, unknown>;

/** Signs `claims` under the header `{alg, typ, kid}` (member order as jose writes it). */
export function signJwt(
  header: { alg: string; typ: string; kid: string },
  claims: Readonly<ClaimsSet>,
  key: KeyObject,
): string {
  const spec = specFor(header.alg, key);
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  const signature = sign(spec.hash, Buffer.from(input), cryptoKey(spec, key));
  return `${input}.${signature.toString("base64url")}`;
}

/** The parts of a compact JWS, decoded but not verified. */
export interface DecodedJwt {
  readonly header: JoseHeader;
  readonly payload: ClaimsSet;
  readonly signingInput: string;
  readonly signature: Buffer;
}

/** Splits and decodes a compact JWT; throws `JwsError("malformed")` on any irregularity. */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwsError("malformed");
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonPart(h);
  const payload = decodeJsonPart(p);
  if (typeof header.alg !== "string") throw new JwsError("malformed");
  return {
    header: header as JoseHeader,
    payload,
    signingInput: `${h}.${p}`,
    signature: decodePart(s),
  };
}

export interface ClaimChecks {
  /** Allowed `alg` values; anything else is refused before a key is looked up. */
  readonly algorithms: readonly string[];
  readonly issuer: string;
  /** Any one of these must be in `aud`; undefined skips the check. */
  readonly audience?: readonly string[];
  /** Required `typ` header (compared as jose does: case-insensitive, `application/` optional). */
  readonly typ?: string;
  readonly requiredClaims: readonly string[];
  /** Epoch seconds. */
  readonly now: number;
  /** Seconds `exp` may lie behind `now`. */
  readonly clockTolerance: number;
  /**
   * Seconds `iat` may lie ahead of `now` (the issuer's clock running fast); by default
   * `clockTolerance`. Baton's own tokens take no grace on `exp` or `nbf` (it never sets one),
   * but some on `iat`: another node's clock may be a second ahead.
   */
  readonly iatTolerance?: number;
}

/**
 * Verifies a decoded JWT: the algorithm is allowed and matches the key, the signature holds,
 * then the claims (RFC 7519 §7.2), in jose's order: `typ`, required claims, `iss`, `aud`,
 * `iat`/`nbf`/`exp` types and times. Returns the claims set.
 */
export function verifyJwt(jwt: DecodedJwt, key: KeyObject, checks: ClaimChecks): ClaimsSet {
  const { header, payload } = jwt;
  if (!checks.algorithms.includes(header.alg)) throw new JwsError("alg");
  // RFC 7515 §4.1.11: extensions this verifier does not understand must be refused; it
  // understands none (and RFC 7797 `b64` only ever appears with `crit`).
  if (header.crit !== undefined || header.b64 !== undefined) throw new JwsError("crit");
  const spec = specFor(header.alg, key);
  if (spec.signatureBytes !== undefined && jwt.signature.length !== spec.signatureBytes) {
    throw new JwsError("signature");
  }
  const valid = verify(
    spec.hash,
    Buffer.from(jwt.signingInput),
    cryptoKey(spec, key),
    jwt.signature,
  );
  if (!valid) throw new JwsError("signature");
  checkClaims(header, payload, checks);
  return payload;
}

function checkClaims(header: JoseHeader, claims: ClaimsSet, checks: ClaimChecks): void {
  if (checks.typ !== undefined) {
    if (typeof header.typ !== "string" || normalizeTyp(header.typ) !== normalizeTyp(checks.typ))
      throw new JwsError("claim.typ");
  }
  const required = [...checks.requiredClaims, "iss", ...(checks.audience ? ["aud"] : [])];
  for (const claim of required) {
    if (!Object.hasOwn(claims, claim)) throw new JwsError(`claim.${claim}`);
  }
  if (claims.iss !== checks.issuer) throw new JwsError("claim.iss");
  if (checks.audience && !audienceMatches(claims.aud, checks.audience)) {
    throw new JwsError("claim.aud");
  }
  const { now, clockTolerance } = checks;
  // RFC 7519 §4.1.6: `iat` is when the token was issued. One issued in the future (beyond the
  // skew) comes from a wrong clock, or was minted to outlive the limits set on its age.
  const iat = numericDate(claims, "iat");
  if (iat !== undefined && iat > now + (checks.iatTolerance ?? clockTolerance)) {
    throw new JwsError("claim.iat");
  }
  const nbf = numericDate(claims, "nbf");
  // RFC 7519 §4.1.5: not before `nbf`; §4.1.4: not on or after `exp` (jose's comparisons).
  if (nbf !== undefined && nbf > now + clockTolerance) throw new JwsError("claim.nbf");
  const exp = numericDate(claims, "exp");
  if (exp !== undefined && exp <= now - clockTolerance) throw new JwsError("expired");
}

/** RFC 7519 §2 NumericDate: a finite number when present. */
function numericDate(claims: ClaimsSet, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new JwsError(`claim.${name}`);
  return value;
}

/** RFC 7519 §4.1.3: a string, or an array of strings, one of which is expected. */
function audienceMatches(aud: unknown, expected: readonly string[]): boolean {
  if (typeof aud === "string") return expected.includes(aud);
  if (!Array.isArray(aud)) return false;
  return aud.some((a) => typeof a === "string" && expected.includes(a));
}

/** RFC 7515 §4.1.9: `typ` is a media type, compared case-insensitively, `application/` implied. */
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes("/") ? lower : `application/${lower}`;
}

/** The algorithm's needs, once the key is known to fit it (RFC 7518 §3.1). */
function specFor(alg: string, key: KeyObject): AlgorithmSpec {
  const spec = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
  if (!spec) throw new JwsError("alg");
  const type = key.asymmetricKeyType;
  if (type === undefined || !spec.keyTypes.includes(type)) throw new JwsError("key");
  const details = key.asymmetricKeyDetails;
  if (spec.curve !== undefined && details?.namedCurve !== spec.curve) throw new JwsError("key");
  if (
    spec.hash !== null &&
    spec.curve === undefined &&
    (details?.modulusLength ?? 0) < MIN_RSA_BITS
  )
    throw new JwsError("key");
  return spec;
}

/** The key with the options its algorithm needs (P1363 `R || S` for ECDSA, PSS padding). */
function cryptoKey(spec: AlgorithmSpec, key: KeyObject) {
  if (spec.curve !== undefined) return { key, dsaEncoding: "ieee-p1363" as const };
  if (spec.pss) {
    return {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    };
  }
  return key;
}

const encodeJson = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Canonical unpadded base64url (RFC 7515 §2): Buffer would skip stray characters silently. */
const BASE64URL = /^[A-Za-z0-9_-]*$/;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function decodePart(part: string): Buffer {
  const rest = part.length % 4;
  if (rest === 1 || !BASE64URL.test(part)) throw new JwsError("malformed");
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits: they must be
  // zero, so that one byte string has exactly one spelling (RFC 4648 §3.5).
  if (rest !== 0) {
    const last = ALPHABET.indexOf(part.charAt(part.length - 1));
    if ((last & (rest === 2 ? 0x0f : 0x03)) !== 0) throw new JwsError("malformed");
  }
  return Buffer.from(part, "base64url");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A part that must be a JSON object (RFC 7515 §5.2 step 3, RFC 7519 §7.2 step 10). */
function decodeJsonPart(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(decodePart(part)));
  } catch (cause) {
    if (cause instanceof JwsError) throw cause;
    throw new JwsError("malformed");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwsError("malformed");
  }
  return value as Record<string, unknown>;
}
