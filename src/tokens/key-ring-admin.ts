/**
 * The operator's side of the key ring (`baton keys rotate | withdraw | list`): each change is
 * one rewrite of the stored ring under its lock (stored-ring.ts), which every serving process
 * picks up within KEY_REFRESH_SECONDS. Kept apart from key-ring.ts, which is what a serving
 * process holds: it only reads the ring, and changes it only to start up.
 *
 * @module tokens/key-ring-admin
 */

import type { Clock } from "../clock.js";
import type { SigningAlg } from "../policy/types.js";
import type { Store } from "../store/store.js";
import type { KeySealer } from "./key-seal.js";
import {
  currentKey,
  generateStoredKey,
  isWithdrawn,
  RING_KEY,
  refusePlainKeyForSealedRing,
  rotate,
  type StoredKey,
  type StoredRing,
  withRingLock,
} from "./stored-ring.js";

/**
 * Makes a new current key. The old one stays published until `now + maxTtl +
 * KEY_REFRESH_SECONDS`, when the last token it signed has expired; keys past that are dropped.
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
    refusePlainKeyForSealedRing(before, sealer);
    const ring = await rotate(store, alg, clock, maxTtl, sealer);
    return { kid: currentKey(ring).kid, previous: before ? currentKey(before).kid : undefined };
  });
}

/** `baton keys withdraw` names a kid the ring does not hold. */
export class UnknownKeyError extends Error {
  override name = "UnknownKeyError";
  constructor(kid: string) {
    super(`no key ${JSON.stringify(kid)} in the key ring (baton keys list shows them)`);
  }
}

export interface Withdrawal {
  readonly kid: string;
  /** The new current key, when the withdrawn key was the one signing. */
  readonly replacedBy?: string;
  /** It had been withdrawn before: nothing changed. */
  readonly already: boolean;
}

/**
 * Emergency withdrawal (a leaked private key): the key leaves the ring at once, so it is out
 * of every node's JWKS, and every token it signed stops verifying, within KEY_REFRESH_SECONDS.
 * The current key is replaced in the same write, under the ring lock, so the ring is never
 * without a signing key. Its kid is remembered, so it can never come back.
 */
export async function withdrawKey(
  store: Store,
  kid: string,
  alg: SigningAlg,
  clock: Clock,
  sealer?: KeySealer,
): Promise<Withdrawal> {
  return withRingLock(store, async () => {
    const ring = await store.get<StoredRing>(RING_KEY);
    if (ring && isWithdrawn(ring, kid)) return { kid, already: true };
    const target = ring?.keys.find((k) => k.kid === kid);
    if (!ring || !target) throw new UnknownKeyError(kid);
    const now = clock.now();
    const replacement =
      target.retiredAt === undefined ? await replacementKey(ring, alg, now, sealer) : undefined;
    const rest = ring.keys.filter((k) => k.kid !== kid);
    const next: StoredRing = {
      ...ring,
      keys: replacement ? [...rest, replacement] : rest,
      withdrawn: [...(ring.withdrawn ?? []), { kid, alg: target.alg, withdrawnAt: now }],
    };
    await store.set(RING_KEY, next);
    return { kid, already: false, ...(replacement ? { replacedBy: replacement.kid } : {}) };
  });
}

/** A new current key to take a withdrawn current key's place: sealed like the ring's keys. */
function replacementKey(
  ring: StoredRing,
  alg: SigningAlg,
  now: number,
  sealer: KeySealer | undefined,
): Promise<StoredKey> {
  refusePlainKeyForSealedRing(ring, sealer);
  return generateStoredKey(alg, now, sealer);
}

export type KeyState = "current" | "retired" | "expired" | "withdrawn";

/** One kid of the ring as `baton keys list` shows it: public facts only, never key material. */
export interface KeyListing {
  readonly kid: string;
  readonly alg: SigningAlg;
  /**
   * `current` signs; `retired` no longer signs and is published until `publishUntil`;
   * `expired` is past that, no longer published (dropped at the next rotation); `withdrawn`
   * was taken out by `baton keys withdraw`.
   */
  readonly state: KeyState;
  /** Epoch seconds, for `retired` and `expired` keys. */
  readonly publishUntil?: number;
  /** Epoch seconds, for `withdrawn` keys. */
  readonly withdrawnAt?: number;
}

/** The ring's kids and their states, oldest first, withdrawn ones last. */
export async function listKeys(store: Store, clock: Clock): Promise<KeyListing[]> {
  const ring = await store.get<StoredRing>(RING_KEY);
  if (!ring) return [];
  const now = clock.now();
  const kept = ring.keys
    .filter((k) => !isWithdrawn(ring, k.kid))
    .map((k): KeyListing => {
      if (k.retiredAt === undefined) return { kid: k.kid, alg: k.alg, state: "current" };
      const until = k.publishUntil ?? Number.POSITIVE_INFINITY;
      return {
        kid: k.kid,
        alg: k.alg,
        state: until > now ? "retired" : "expired",
        ...(k.publishUntil === undefined ? {} : { publishUntil: k.publishUntil }),
      };
    });
  const withdrawn = (ring.withdrawn ?? []).map(
    (w): KeyListing => ({ kid: w.kid, alg: w.alg, state: "withdrawn", withdrawnAt: w.withdrawnAt }),
  );
  return [...kept, ...withdrawn];
}
