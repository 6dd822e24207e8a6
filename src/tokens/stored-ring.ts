/**
 * The key ring as the store holds it, and the changes every process makes to it under one lock.
 * `openKeyRing` (key-ring.ts) and the operator's `baton keys` commands (key-ring-admin.ts) both
 * read and rewrite this one record, so its shape, its lock and the rules of a rotation live here
 * once: a retired key stays published until the last token it can have signed has expired, and
 * a withdrawn kid never comes back.
 *
 * @module tokens/stored-ring
 */

import { randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import type { Clock } from "../clock.js";
import { storeUnavailable } from "../errors.js";
import type { SigningAlg } from "../policy/types.js";
import type { Store } from "../store/store.js";
import { type KeySealer, type SealedJwk, SealedKeyError } from "./key-seal.js";

export const RING_KEY = "keys:ring";

/**
 * How often every long-running process re-reads the ring (main/keep-current.ts `keepKeysCurrent`): a
 * rotation or a withdrawal reaches every node on the store within this many seconds.
 */
export const KEY_REFRESH_SECONDS = 5;

/**
 * One key as stored. Private members live only in the store, never on the wire or in logs:
 * sealed when the store has a key secret (tokens/key-seal.ts), and only for the current key:
 * a retired key never signs again, so its private half is dropped at rotation.
 */
export interface StoredKey {
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

/** A key taken out by `baton keys withdraw`: its kid, never its key material. */
interface WithdrawnKey {
  kid: string;
  alg: SigningAlg;
  /** Epoch seconds. */
  withdrawnAt: number;
}

export interface StoredRing {
  keys: StoredKey[];
  /**
   * Every kid ever withdrawn, kept for good (a few dozen bytes each, and withdrawals are rare):
   * a kid listed here is never published, signed with or verified with, whatever `keys` says.
   */
  withdrawn?: WithdrawnKey[];
}

/** Seals the current key's private half and drops retired ones' (see StoredKey). */
export async function sealPlainKeys(store: Store, sealer: KeySealer): Promise<StoredRing> {
  const ring = await store.get<StoredRing>(RING_KEY);
  if (!ring) throw new Error("the key ring is gone");
  const keys = ring.keys.map((k): StoredKey => {
    const { privateJwk, ...rest } = k;
    if (privateJwk === undefined || k.retiredAt !== undefined) return rest;
    return { ...rest, sealed: sealer.seal(privateJwk, k.kid) };
  });
  const sealed: StoredRing = { ...ring, keys };
  await store.set(RING_KEY, sealed);
  return sealed;
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
export async function withRingLock<T>(store: Store, rotation: () => Promise<T>): Promise<T> {
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

/** Retires the current key (kept published, see retiredUntil), drops expired ones, adds a new one. */
export async function rotate(
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
        k.retiredAt === undefined
          ? { ...k, retiredAt: now, publishUntil: retiredUntil(now, maxTtl) }
          : k,
    )
    .filter((k) => (k.publishUntil ?? Number.POSITIVE_INFINITY) > now);
  const ring: StoredRing = { ...old, keys: [...kept, await generateStoredKey(alg, now, sealer)] };
  await store.set(RING_KEY, ring);
  return ring;
}

/**
 * Until when a key retired at `now` stays published. A token's `exp` is at most `maxTtl` after
 * it was signed, and a node that has not re-read the ring yet still signs with the retired key
 * for up to KEY_REFRESH_SECONDS after the rotation: the last such token must still verify.
 */
const retiredUntil = (now: number, maxTtl: number) => now + maxTtl + KEY_REFRESH_SECONDS;

/** A store whose keys are sealed gets no plain key from a process without the secret. */
export function refusePlainKeyForSealedRing(
  ring: StoredRing | undefined,
  sealer: KeySealer | undefined,
): void {
  if (!sealer && ring?.keys.some((k) => k.sealed !== undefined)) {
    throw new SealedKeyError("missing");
  }
}

export const isWithdrawn = (ring: StoredRing, kid: string) =>
  ring.withdrawn?.some((w) => w.kid === kid) === true;

/**
 * A kid that names the key material itself (its RFC 7638 thumbprint) behind a random hex tag.
 * The tag comes first: a base64url thumbprint may begin with `-`, and a kid the operator types
 * after `baton keys withdraw` must not read as an option.
 */
export function kidFor(thumbprint: string, tag: string): string {
  return `${tag}.${thumbprint}`;
}

/** A fresh key pair, its kid, and its private half sealed when there is a key secret. */
export async function generateStoredKey(
  alg: SigningAlg,
  now: number,
  sealer: KeySealer | undefined,
): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = kidFor(await calculateJwkThumbprint(publicJwk), randomUUID().slice(0, 8));
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    ...(sealer ? { sealed: sealer.seal(privateJwk, kid) } : { privateJwk }),
    publicJwk: { ...publicJwk, kid, alg, use: "sig" },
    createdAt: now,
  };
}

/** The key that signs: the one not retired, and never a withdrawn kid. */
export function currentKey(ring: StoredRing): StoredKey {
  // A withdrawn kid never signs again, even if a stale writer put it back in `keys`.
  const current = ring.keys.find((k) => k.retiredAt === undefined && !isWithdrawn(ring, k.kid));
  if (!current) throw new Error("the key ring has no current key");
  return current;
}

/** The keys in the JWKS at `now`: within their publication window, and never a withdrawn kid. */
export const publishedAt = (ring: StoredRing, now: number) =>
  ring.keys.filter(
    (k) => (k.publishUntil ?? Number.POSITIVE_INFINITY) > now && !isWithdrawn(ring, k.kid),
  );
