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
 * How often every long-running process re-reads the ring (main/keep-current.ts `keepKeysCurrent`): a
 * rotation or a withdrawal reaches every node on the store within this many seconds.
 */
export const KEY_REFRESH_SECONDS = 5;

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

/** A key taken out by `baton keys withdraw`: its kid, never its key material. */
interface WithdrawnKey {
  kid: string;
  alg: SigningAlg;
  /** Epoch seconds. */
  withdrawnAt: number;
}

interface StoredRing {
  keys: StoredKey[];
  /**
   * Every kid ever withdrawn, kept for good (a few dozen bytes each, and withdrawals are rare):
   * a kid listed here is never published, signed with or verified with, whatever `keys` says.
   */
  withdrawn?: WithdrawnKey[];
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

/** Seals the current key's private half and drops retired ones' (see StoredKey). */
async function sealPlainKeys(store: Store, sealer: KeySealer): Promise<StoredRing> {
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
  // A store whose keys are sealed gets no plain key from a process without the secret.
  if (!sealer && ring.keys.some((k) => k.sealed !== undefined)) {
    throw new SealedKeyError("missing");
  }
  return generateStoredKey(alg, now, sealer);
}

const isWithdrawn = (ring: StoredRing, kid: string) =>
  ring.withdrawn?.some((w) => w.kid === kid) === true;

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

/**
 * A kid that names the key material itself (its RFC 7638 thumbprint) behind a random hex tag.
 * The tag comes first: a base64url thumbprint may begin with `-`, and a kid the operator types
 * after `baton keys withdraw` must not read as an option.
 */
export function kidFor(thumbprint: string, tag: string): string {
  return `${tag}.${thumbprint}`;
}

async function generateStoredKey(
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

function currentKey(ring: StoredRing): StoredKey {
  // A withdrawn kid never signs again, even if a stale writer put it back in `keys`.
  const current = ring.keys.find((k) => k.retiredAt === undefined && !isWithdrawn(ring, k.kid));
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

/** The keys in the JWKS at `now`: within their publication window, and never a withdrawn kid. */
const publishedAt = (ring: StoredRing, now: number) =>
  ring.keys.filter(
    (k) => (k.publishUntil ?? Number.POSITIVE_INFINITY) > now && !isWithdrawn(ring, k.kid),
  );

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
