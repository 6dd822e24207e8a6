/**
 * Baton's signing keys, kept in the store so that a restart (or another process on the same
 * store) signs with the same keys and publishes the same JWKS.
 *
 * A rotated-out key stays published until the last token it can have signed has expired:
 * every token's `exp` is at most `max_ttl` after it was signed, so `retired + max_ttl`.
 *
 * @module tokens/key-ring
 */

import {
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
} from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import type { Clock } from "../clock.js";
import { storeUnavailable } from "../errors.js";
import type { SigningAlg } from "../policy/types.js";
import type { Store } from "../store/store.js";
import { type KeySealer, type SealedJwk, SealedKeyError } from "./key-seal.js";

const RING_KEY = "keys:ring";

/**
 * One key as stored. Private members live only in the store, never on the wire or in logs:
 * sealed when the store has a key secret (tokens/key-seal.ts), and only for the current key:
 * a retired key never signs again, so its private half is dropped at rotation.
 */
interface StoredKey {
  kid: string;
  alg: SigningAlg;
  privateJwk?: JWK;
  sealed?: SealedJwk;
  publicJwk: JWK;
  /** Epoch seconds. */
  createdAt: number;
  /** Epoch seconds when it stopped signing; absent for the current key. */
  retiredAt?: number;
  /** Epoch seconds after which no token it signed can still be valid. */
  publishUntil?: number;
}

interface StoredRing {
  keys: StoredKey[];
}

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
  /** The JWKS document: public members only. Built once per load. */
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

/** Seals the current key's private half and drops retired ones' (see StoredKey). */
async function sealPlainKeys(store: Store, sealer: KeySealer): Promise<StoredRing> {
  const ring = await store.get<StoredRing>(RING_KEY);
  if (!ring) throw new Error("the key ring is gone");
  const keys = ring.keys.map((k): StoredKey => {
    const { privateJwk, ...rest } = k;
    if (privateJwk === undefined || k.retiredAt !== undefined) return rest;
    return { ...rest, sealed: sealer.seal(privateJwk, k.kid) };
  });
  const sealed: StoredRing = { keys };
  await store.set(RING_KEY, sealed);
  return sealed;
}

/**
 * Makes a new current key. The old one stays published until `now + maxTtl`, when the last
 * token it signed has expired; keys past that are dropped.
 */
export async function rotateKeys(
  store: Store,
  alg: SigningAlg,
  clock: Clock,
  maxTtl: number,
  sealer?: KeySealer,
): Promise<{ kid: string; previous: string | undefined }> {
  return withRingLock(store, async () => {
    const before = await store.get<StoredRing>(RING_KEY);
    // A store whose keys are sealed gets no plain key from a process without the secret.
    if (!sealer && before?.keys.some((k) => k.sealed !== undefined)) {
      throw new SealedKeyError("missing");
    }
    const ring = await rotate(store, alg, clock, maxTtl, sealer);
    return { kid: currentKey(ring).kid, previous: before ? currentKey(before).kid : undefined };
  });
}

const LOCK_KEY = "keys:ring-lock";
/** Longest a rotation may hold the lock: a rotator that dies frees it by expiry. */
const LOCK_TTL_MS = 10_000;
/** How long a second rotator waits for the first before giving up (then: 503). */
const LOCK_WAIT_MS = 5_000;
const LOCK_POLL_MS = 25;

/**
 * A rotation reads the ring and writes it back: two at once (two `baton keys rotate`, or nodes
 * starting together on a new `signing_alg`) would each drop the other's new key. Rotations are
 * rare, so they take turns under a lock in the store (an atomic add), across every process.
 */
async function withRingLock<T>(store: Store, rotation: () => Promise<T>): Promise<T> {
  const waitUntil = Date.now() + LOCK_WAIT_MS;
  while (!(await store.add(LOCK_KEY, randomUUID(), LOCK_TTL_MS))) {
    if (Date.now() > waitUntil) {
      throw storeUnavailable(new Error("another key rotation holds the key ring"));
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    return await rotation();
  } finally {
    await store.delete(LOCK_KEY);
  }
}

async function rotate(
  store: Store,
  alg: SigningAlg,
  clock: Clock,
  maxTtl: number,
  sealer: KeySealer | undefined,
) {
  const now = clock.now();
  const old = (await store.get<StoredRing>(RING_KEY)) ?? { keys: [] };
  const kept = old.keys
    .map(
      ({ privateJwk: _p, sealed: _s, ...k }): StoredKey =>
        k.retiredAt === undefined ? { ...k, retiredAt: now, publishUntil: now + maxTtl } : k,
    )
    .filter((k) => (k.publishUntil ?? Number.POSITIVE_INFINITY) > now);
  const ring: StoredRing = { keys: [...kept, await generateStoredKey(alg, now, sealer)] };
  await store.set(RING_KEY, ring);
  return ring;
}

async function generateStoredKey(
  alg: SigningAlg,
  now: number,
  sealer: KeySealer | undefined,
): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  // RFC 7638 thumbprint: a stable kid that names the key material itself.
  const kid = `${await calculateJwkThumbprint(publicJwk)}.${randomUUID().slice(0, 8)}`;
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    ...(sealer ? { sealed: sealer.seal(privateJwk, kid) } : { privateJwk }),
    publicJwk: { ...publicJwk, kid, alg, use: "sig" },
    createdAt: now,
  };
}

function currentKey(ring: StoredRing): StoredKey {
  const current = ring.keys.find((k) => k.retiredAt === undefined);
  if (!current) throw new Error("the key ring has no current key");
  return current;
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
    signingKey: () => state.signing,
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

const publishedAt = (ring: StoredRing, now: number) =>
  ring.keys.filter((k) => (k.publishUntil ?? Number.POSITIVE_INFINITY) > now);

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

/**
 * The ring as this process uses it. `held` is the key it signs with now: when the new current
 * key is sealed under a key secret this process does not have (the secret is being changed,
 * operations.md), it goes on signing with `held`, still published for `max_ttl`, while it
 * learns the new public keys. A first import has nothing to hold, and fails.
 */
function importRing(
  ring: StoredRing,
  now: number,
  sealer: KeySealer | undefined,
  held?: SigningKey,
) {
  const published = publishedAt(ring, now);
  const verification = new Map<string, KeyObject>();
  for (const k of published) {
    verification.set(k.kid, createPublicKey({ key: k.publicJwk as JsonWebKey, format: "jwk" }));
  }
  const current = currentKey(ring);
  let signing: SigningKey;
  try {
    signing = {
      kid: current.kid,
      alg: current.alg,
      key: createPrivateKey({ key: privateJwkOf(current, sealer) as JsonWebKey, format: "jwk" }),
    };
  } catch (err) {
    if (!(err instanceof SealedKeyError) || !held || !verification.has(held.kid)) throw err;
    signing = held;
  }
  return {
    signing,
    verification,
    jwks: { keys: published.map((k) => ({ ...k.publicJwk })) },
    fingerprint: fingerprint(ring, now),
  };
}
