/**
 * Baton's signing keys, kept in the store so that a restart (or another process on the same
 * store) signs with the same keys and publishes the same JWKS.
 *
 * A rotated-out key stays published until the last token it can have signed has expired:
 * every token's `exp` is at most `max_ttl` after it was signed, and a node that has not yet
 * re-read the ring goes on signing with it for up to KEY_REFRESH_SECONDS, so
 * `retired + max_ttl + KEY_REFRESH_SECONDS`.
 *
 * A withdrawn key (`baton keys withdraw`, a leaked private key) leaves the ring at once and its
 * kid is remembered, so that nothing can publish it, sign with it or verify with it again.
 *
 * This module is the ring a serving process holds (sign, verify, publish, follow the store);
 * the stored record and its lock are in stored-ring.ts, the operator's commands in
 * key-ring-admin.ts.
 *
 * @module tokens/key-ring
 */

import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import type { JWK } from "jose";
import type { Clock } from "../clock.js";
import type { SigningAlg } from "../policy/types.js";
import type { Store } from "../store/store.js";
import { type KeySealer, SealedKeyError } from "./key-seal.js";
import {
  currentKey,
  generateStoredKey,
  publishedAt,
  RING_KEY,
  rotate,
  type StoredKey,
  type StoredRing,
  sealPlainKeys,
  withRingLock,
} from "./stored-ring.js";

export { KEY_REFRESH_SECONDS } from "./stored-ring.js";

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  /** A node:crypto key: Baton signs and verifies its own tokens synchronously (tokens/jws.ts). */
  readonly key: KeyObject;
}

export interface KeyRing {
  /** The key every new token is signed with. */
  signingKey(): SigningKey;
  /** A published public key by `kid`, or undefined. */
  verificationKey(kid: string): KeyObject | undefined;
  /**
   * Like `verificationKey`, but an unknown `kid` re-reads the store first (at most once per
   * cooldown), so a key made by another process on the same store is found.
   */
  findVerificationKey(kid: string): Promise<KeyObject | undefined>;
  /**
   * The JWKS document: public members only. Built once per load: the same object until the
   * published keys change, so it also names the ring's state (tokens/verify.ts keys its cache
   * of verified tokens by it).
   */
  jwks(): { keys: JWK[] };
  /** Re-reads the ring from the store (after a rotation by another process). */
  reload(): Promise<void>;
}

/** Loads the ring, creating the first key (race-free across processes) when there is none. */
export async function openKeyRing(
  store: Store,
  alg: SigningAlg,
  clock: Clock,
  maxTtl: number,
  /** With a key secret: private halves are sealed, and plain ones found are sealed now. */
  sealer?: KeySealer,
): Promise<KeyRing> {
  let ring = await store.get<StoredRing>(RING_KEY);
  if (!ring) {
    const first: StoredRing = { keys: [await generateStoredKey(alg, clock.now(), sealer)] };
    // Two processes starting together on one store must end up with one key: add-if-absent.
    await store.add(RING_KEY, first);
    ring = await store.get<StoredRing>(RING_KEY);
  }
  if (!ring) throw new Error("the key ring could not be stored");
  if (sealer && ring.keys.some((k) => k.privateJwk !== undefined)) {
    // A key secret given to a store whose keys are plain: seal them, once, under the lock.
    ring = await withRingLock(store, () => sealPlainKeys(store, sealer));
  }
  if (currentKey(ring).alg !== alg) {
    // The policy asks for another algorithm: rotate to it, keeping the old key published.
    // Several nodes may start together: under the lock, only the first still needs to.
    ring = await withRingLock(store, async () => {
      const now = await store.get<StoredRing>(RING_KEY);
      return now && currentKey(now).alg === alg ? now : rotate(store, alg, clock, maxTtl, sealer);
    });
  }
  return buildKeyRing(store, ring, clock, sealer);
}

/** Seconds between two store reads caused by unknown `kid`s. */
const RELOAD_COOLDOWN = 5;

async function buildKeyRing(
  store: Store,
  initial: StoredRing,
  clock: Clock,
  sealer: KeySealer | undefined,
): Promise<KeyRing> {
  let state = importRing(initial, clock.now(), sealer);
  let lastReload = clock.now();
  const reload = async () => {
    lastReload = clock.now();
    const ring = await store.get<StoredRing>(RING_KEY);
    // Serving nodes re-read the ring every few seconds: import keys only when something changed.
    if (ring && fingerprint(ring, clock.now()) !== state.fingerprint) {
      state = importRing(ring, clock.now(), sealer, state.signing);
    }
  };
  return {
    signingKey() {
      if (state.signing instanceof SealedKeyError) throw state.signing;
      return state.signing;
    },
    verificationKey: (kid) => state.verification.get(kid),
    async findVerificationKey(kid) {
      const known = state.verification.get(kid);
      if (known || clock.now() - lastReload < RELOAD_COOLDOWN) return known;
      await reload();
      return state.verification.get(kid);
    },
    jwks: () => state.jwks,
    reload,
  };
}

/** What decides the imported state: the published kids, and which one signs. */
const fingerprint = (ring: StoredRing, now: number) =>
  `${currentKey(ring).kid}|${publishedAt(ring, now)
    .map((k) => k.kid)
    .join(",")}`;

/** The current key's private half, opened. */
function privateJwkOf(key: StoredKey, sealer: KeySealer | undefined): JWK {
  if (key.sealed) {
    if (!sealer) throw new SealedKeyError("missing");
    return sealer.open(key.sealed, key.kid);
  }
  if (!key.privateJwk) throw new Error("the current signing key has no private half");
  return key.privateJwk;
}

/** The ring as this process uses it: what it publishes, verifies with and signs with. */
function importRing(
  ring: StoredRing,
  now: number,
  sealer: KeySealer | undefined,
  previous?: SigningKey | SealedKeyError,
) {
  const published = publishedAt(ring, now);
  const verification = new Map<string, KeyObject>();
  for (const k of published) {
    verification.set(k.kid, createPublicKey({ key: k.publicJwk as JsonWebKey, format: "jwk" }));
  }
  return {
    signing: signingKeyOf(currentKey(ring), sealer, previous, verification),
    verification,
    jwks: { keys: published.map((k) => ({ ...k.publicJwk })) },
    fingerprint: fingerprint(ring, now),
  };
}

/**
 * The key this process signs with. When the current key is sealed under a key secret this
 * process does not have (the secret is being changed, operations.md), it goes on signing with
 * the key it held before, while that key is still published, and learns the new public keys
 * meanwhile. A first import has nothing to hold, and fails. A held key no longer published (its
 * window is over, or it was withdrawn) never signs again: the process then signs nothing (each
 * attempt fails with the sealing error) until it is restarted with the new secret, but it still
 * follows the ring, so a withdrawn key stops verifying here too.
 */
function signingKeyOf(
  current: StoredKey,
  sealer: KeySealer | undefined,
  previous: SigningKey | SealedKeyError | undefined,
  verification: ReadonlyMap<string, KeyObject>,
): SigningKey | SealedKeyError {
  try {
    return {
      kid: current.kid,
      alg: current.alg,
      key: createPrivateKey({ key: privateJwkOf(current, sealer) as JsonWebKey, format: "jwk" }),
    };
  } catch (err) {
    if (!(err instanceof SealedKeyError) || previous === undefined) throw err;
    return previous instanceof SealedKeyError || !verification.has(previous.kid) ? err : previous;
  }
}
