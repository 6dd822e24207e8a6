/**
 * Signs the tokens Baton issues. One signature per token; the claims are built by the core.
 *
 * @module tokens/mint
 */

import { randomBytes } from "node:crypto";
import { signJwt } from "./jws.js";
import type { KeyRing } from "./key-ring.js";

/** A fresh `jti`: 128 random bits, base64url. */
export function newTokenId(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * Signs `claims` with the current key, under the given JOSE `typ`. Synchronous on node:crypto
 * (tokens/jws.ts); a promise still, so that a signer elsewhere (a KMS) could take its place.
 */
export function signToken(
  keys: KeyRing,
  typ: string,
  claims: Record<string, unknown>,
): Promise<string> {
  const { kid, alg, key } = keys.signingKey();
  try {
    return Promise.resolve(signJwt({ alg, typ, kid }, claims, key));
  } catch (error) {
    return Promise.reject(error);
  }
}
