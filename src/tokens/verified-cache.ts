/**
 * Signature checks already done, keyed by the whole token and what it was checked against, so
 * that a subject token presented again (an agent's every step for one user) costs no second
 * signature verification (issue 7).
 *
 * Only the signature and the fixed claims (iss, aud, typ, required claims) are remembered:
 * time is checked again on every hit, exactly as jose checks it (RFC 7519 §4.1.4, §4.1.5), and
 * revocation is not the verifier's concern (the core reads the store on every exchange). An
 * entry that is no longer timely is dropped and the token goes through full verification, so a
 * refusal is always jose's own. One cache belongs to one verifier (one trusted issuer's keys for
 * one policy load, or Baton's key ring): a policy that stops trusting a key starts a new cache.
 *
 * @module tokens/verified-cache
 */

import type { JWTPayload } from "jose";

/** Enough for every user active at once on a node; the oldest entry leaves first. */
const DEFAULT_CAPACITY = 2048;
/**
 * Seconds a check is trusted. Shorter than jose's own cache of a remote JWKS (10 minutes), so
 * a key an issuer withdraws stops working here no later than it would without this cache.
 */
const MAX_AGE = 300;

interface Entry {
  readonly claims: JWTPayload;
  /** Epoch seconds after which the signature is checked again. */
  readonly until: number;
}

export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>();
  readonly #capacity: number;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity;
  }

  /** The claims of a token verified before under `key`, if still within its time window. */
  get(key: string, now: number, clockTolerance: number): JWTPayload | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now <= entry.until && timely(entry.claims, now, clockTolerance)) return entry.claims;
    this.#entries.delete(key);
    return undefined;
  }

  /** Remembers a token verified at `now`. */
  set(key: string, claims: JWTPayload, now: number): void {
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { claims, until: now + MAX_AGE });
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** jose's own time checks: `exp` passed, or `nbf` still ahead, beyond the tolerance. */
function timely(claims: JWTPayload, now: number, clockTolerance: number): boolean {
  if (typeof claims.exp !== "number" || claims.exp <= now - clockTolerance) return false;
  return typeof claims.nbf !== "number" || claims.nbf <= now + clockTolerance;
}
