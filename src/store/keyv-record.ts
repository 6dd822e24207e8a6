/**
 * What every keyv backend of the store shares: the record format on disk or in Redis, the
 * keyv instance over an adapter, and the atomic operations a backend adds to keyv's own.
 *
 * Layout, which every process on one backend must agree on: key `<namespace>:<key>`, value
 * `{"value":…,"expires":<ms since epoch>}` (no `expires`: the record never expires). A record is
 * expired once `now > expires`, keyv's own rule.
 *
 * @module store/keyv-record
 */

import { type DeserializedData, Keyv, type KeyvStoreAdapter } from "keyv";

/** What each backend must do atomically, on keys that already carry the namespace. */
export interface Backend {
  readonly keyv: Keyv<unknown>;
  /** A network backend's deadline for each operation, after which the caller gets a 503. */
  readonly timeoutMs?: number;
  /**
   * Writes `record` unless a live record holds `key`, in one indivisible step. `ttlMs` is the
   * record's lifetime (its `expires` is `now + ttlMs`), for backends with native expiry.
   */
  add(key: string, record: string, now: number, ttlMs?: number): Promise<boolean> | boolean;
  /**
   * Adds 1 to the integer at `key` in one indivisible step and returns the new value: writes
   * `fresh` (value 1) when no live record holds `key`, otherwise keeps the record's `expires`.
   * Undefined, writing nothing, when the live value is not an integer below 2^53 - 1.
   */
  increment(
    key: string,
    fresh: string,
    now: number,
    ttlMs?: number,
  ): Promise<number | undefined> | number | undefined;
  /** Removes `key` in one indivisible step; the record it held, if any. */
  take(key: string): Promise<string | undefined> | string | undefined;
  close(): Promise<void>;
}

export type StoredRecord<V> = DeserializedData<V>;

// Plain JSON rather than keyv's default serializer, which rewrites strings that start with ":"
// and turns ":base64:…" strings into Buffers. Store values are JSON already, and add() must
// write exactly what keyv reads, synchronously for the Map.
export const serialize = <V>(record: StoredRecord<V>): string => JSON.stringify(record);
export const deserialize = <V>(raw: string): StoredRecord<V> => JSON.parse(raw) as StoredRecord<V>;
export const isExpired = (record: StoredRecord<unknown>, now: number): boolean =>
  typeof record.expires === "number" && now > record.expires;
/** A counter value increment() may add 1 to: the result must stay an exact JS integer. */
export const isCountable = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) < Number.MAX_SAFE_INTEGER;

/** keyv over a backend's adapter: our JSON records, our key prefixes, errors thrown. */
export function newKeyv(store: KeyvStoreAdapter | Map<string, string>): Keyv<unknown> {
  return new Keyv<unknown>({
    store,
    useKeyPrefix: false,
    serialize,
    deserialize,
    throwOnErrors: true,
  });
}

/** Rejects when `pending` has not settled within `ms`; what it does later is ignored. */
export function withDeadline<T>(pending: Promise<T> | T, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store gave no answer within ${ms} ms`)), ms);
  });
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}
