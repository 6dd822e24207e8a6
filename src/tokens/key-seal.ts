/**
 * Signing keys encrypted at rest (design §4 rule 9: no secrets at rest). With a key secret
 * (`BATON_KEY_SECRET`), the private half of each signing key is stored sealed with AES-256-GCM
 * under a key derived from that secret, so a copy of the store (a SQLite backup, a Redis dump
 * or replica) holds no usable private key. Every process on the store needs the same secret.
 *
 * Key derivation: HKDF-SHA256 (RFC 5869) with a fresh random salt per sealed key. The secret
 * must already be high-entropy (at least 32 characters, e.g. `openssl rand -base64 32`), which
 * is what HKDF assumes; a password-hashing KDF would only slow every start for no gain. The
 * key id is the GCM additional data: a sealed key moved under another kid does not open.
 *
 * @module tokens/key-seal
 */

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { JWK } from "jose";

/** A private JWK as stored when sealed: every member base64url. */
export interface SealedJwk {
  readonly v: 1;
  readonly enc: "A256GCM";
  readonly salt: string;
  readonly iv: string;
  readonly ct: string;
  readonly tag: string;
}

export interface KeySealer {
  seal(jwk: JWK, kid: string): SealedJwk;
  /** Throws `SealedKeyError` when the secret is not the one the key was sealed with. */
  open(sealed: SealedJwk, kid: string): JWK;
}

/** Why the signing keys cannot be used; the composition root names the setting. */
export type SealedKeyProblem = "missing" | "wrong" | "short";

/** The signing keys cannot be used: sealed without a secret here, or with another secret. */
export class SealedKeyError extends Error {
  override name = "SealedKeyError";
  readonly problem: SealedKeyProblem;
  constructor(problem: SealedKeyProblem) {
    super(
      problem === "missing"
        ? "the signing keys in the store are sealed, and no key secret was given"
        : problem === "wrong"
          ? "the key secret does not open the signing keys in the store"
          : `the key secret must be at least ${MIN_KEY_SECRET_LENGTH} characters`,
    );
    this.problem = problem;
  }
}

/** The shortest secret accepted: 32 characters (base64 of 24 random bytes or more). */
export const MIN_KEY_SECRET_LENGTH = 32;

const INFO = Buffer.from("baton key ring v1");

export function createKeySealer(secret: string): KeySealer {
  if (secret.length < MIN_KEY_SECRET_LENGTH) {
    // The secret itself is never in a message.
    throw new SealedKeyError("short");
  }
  const ikm = Buffer.from(secret, "utf8");
  const keyFor = (salt: Buffer) => Buffer.from(hkdfSync("sha256", ikm, salt, INFO, 32));
  return {
    seal(jwk, kid) {
      const salt = randomBytes(16);
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", keyFor(salt), iv);
      cipher.setAAD(Buffer.from(kid, "utf8"));
      const ct = Buffer.concat([cipher.update(JSON.stringify(jwk), "utf8"), cipher.final()]);
      return {
        v: 1,
        enc: "A256GCM",
        salt: salt.toString("base64url"),
        iv: iv.toString("base64url"),
        ct: ct.toString("base64url"),
        tag: cipher.getAuthTag().toString("base64url"),
      };
    },
    open(sealed, kid) {
      try {
        const decipher = createDecipheriv(
          "aes-256-gcm",
          keyFor(Buffer.from(sealed.salt, "base64url")),
          Buffer.from(sealed.iv, "base64url"),
        );
        decipher.setAAD(Buffer.from(kid, "utf8"));
        decipher.setAuthTag(Buffer.from(sealed.tag, "base64url"));
        const plain = Buffer.concat([
          decipher.update(Buffer.from(sealed.ct, "base64url")),
          decipher.final(),
        ]);
        return JSON.parse(plain.toString("utf8")) as JWK;
      } catch {
        throw new SealedKeyError("wrong");
      }
    },
  };
}
