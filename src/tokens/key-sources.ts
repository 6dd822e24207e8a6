/**
 * Where the keys that verify a JWT come from: Baton's own key ring, a trusted issuer's JWKS
 * (fetched, cached by jose, with a cooldown after a failure) or an agent's `jwks` in the policy.
 * Each source answers one question, "the key for this JWS header", in the one shape verify.ts
 * checks signatures with (a node KeyObject), so verification itself is the same for all three.
 *
 * @module tokens/key-sources
 */

import { KeyObject, type webcrypto } from "node:crypto";
import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey } from "jose";
import type { TrustedIssuer } from "../policy/types.js";
import type { DecodedJwt } from "./jws.js";
import type { KeyRing } from "./key-ring.js";

type CryptoKey = webcrypto.CryptoKey;

/** A key for a JWS header: Baton's ring gives node KeyObjects, jose's JWKS sets CryptoKeys. */
export type KeyLookup = (
  header: DecodedJwt["header"],
) => Promise<KeyObject | CryptoKey> | KeyObject;

/** CryptoKeys from jose's key sets, converted once each (the sets keep returning the same). */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/** The key a lookup found, as the node KeyObject signatures are checked with. */
export function asKeyObject(key: KeyObject | CryptoKey): KeyObject {
  if (key instanceof KeyObject) return key;
  let object = keyObjects.get(key);
  if (!object) {
    object = KeyObject.from(key);
    keyObjects.set(key, object);
  }
  return object;
}

/** jose's key sets, asked with the header only (a compact JWS has no unprotected header). */
const fromKeySet =
  (getKey: JWTVerifyGetKey): KeyLookup =>
  (header) =>
    getKey(header as Parameters<JWTVerifyGetKey>[0], undefined as never) as Promise<CryptoKey>;

/**
 * The ring's published key by `kid`; an unknown kid re-reads the store first (at most once per
 * cooldown, KeyRing.findVerificationKey), so a key made by another process is found.
 */
export function ringKeys(keys: KeyRing): KeyLookup {
  return (header) => {
    const kid = typeof header.kid === "string" ? header.kid : undefined;
    const known = kid === undefined ? undefined : keys.verificationKey(kid);
    if (known) return known;
    return (kid === undefined ? Promise.resolve(undefined) : keys.findVerificationKey(kid)).then(
      (key) => {
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
    );
  };
}

/** A trusted issuer's keys: fetched from its `jwks_uri`, or given inline in the policy. */
export function issuerKeys(trusted: TrustedIssuer): KeyLookup {
  return fromKeySet(
    trusted.jwksUri
      ? // jose caches the JWKS, refetches on an unknown kid at most once per cooldown.
        withFailureCooldown(
          createRemoteJWKSet(new URL(trusted.jwksUri), {
            cooldownDuration: JWKS_COOLDOWN_MS,
            cacheMaxAge: 10 * 60_000,
            timeoutDuration: 5_000,
          }),
        )
      : createLocalJWKSet({ keys: (trusted.jwks?.keys ?? []) as never[] }),
  );
}

/** One key set per policy `jwks` object, so keys are imported once, not per request. */
const agentKeySets = new WeakMap<object, KeyLookup>();

/** An agent's keys, from its policy `jwks`: imported once per policy object. */
export function agentKeys(jwks: { readonly keys: readonly object[] }): KeyLookup {
  let getKey = agentKeySets.get(jwks);
  if (!getKey) {
    getKey = fromKeySet(createLocalJWKSet({ keys: jwks.keys as never[] }));
    agentKeySets.set(jwks, getKey);
  }
  return getKey;
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
