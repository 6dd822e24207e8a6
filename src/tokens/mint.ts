/**
 * Signs the tokens Baton issues. One signature per token; the claims are built by the core.
 *
 * @module tokens/mint
 */

import { randomFillSync } from "node:crypto";
import { signJwt } from "./jws.js";
import type { KeyRing } from "./key-ring.js";

const ID_BYTES = 16;
/** Random bytes for 256 ids, drawn from the CSPRNG at once: one call per 256 tokens, not one each. */
const pool = Buffer.alloc(ID_BYTES * 256);
let offset = pool.length;

/** A fresh `jti`: 128 random bits (never reused: each pool slice is handed out once), base64url. */
export function newTokenId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
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
