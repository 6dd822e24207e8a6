/**
 * What every keyv backend of the store shares: the record format on disk or in Redis, and the
 * operations a backend offers the store, plain and atomic.
 *
 * Layout, which every process on one backend must agree on: key `<namespace>:<key>`, value
 * `{"value":…,"expires":<ms since epoch>}` (no `expires`: the record never expires). A record is
 * expired once `now > expires`, keyv's own rule, where `now` is the store's clock (design §7):
 * the store computes and checks every expiry itself, so keyv's own reads and writes, which
 * read `Date.now()`, are not used; its adapters are.
 *
 * @module store/keyv-record
 */

/** One record as stored: `expires` in milliseconds since the epoch, by the store's clock. */
export interface StoredRecord<V> {
  value: V;
  expires?: number | undefined;
}

/**
 * What each backend does, on keys that already carry the namespace. Reads hand back the raw
 * record, live or expired: the store reads `expires` against its clock. `now` is the store's
 * clock in milliseconds; `ttlMs` is the record's lifetime (its `expires` is `now + ttlMs`), for
 * backends with native expiry.
 */
export interface Backend {
  /** A network backend's deadline for each operation, after which the caller gets a 503. */
  readonly timeoutMs?: number;
  get(key: string, now: number): Promise<string | undefined> | string | undefined;
  getMany(keys: readonly string[], now: number): Promise<(string | undefined)[]>;
  set(key: string, record: string, ttlMs?: number): Promise<void> | void;
  /** Writes `record` unless a live record holds `key`, in one indivisible step. */
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
    durable?: boolean,
  ): Promise<number | undefined> | number | undefined;
  /** Removes `key` in one indivisible step; the record it held, if any. */
  take(key: string): Promise<string | undefined> | string | undefined;
  close(): Promise<void>;
}

// Plain JSON rather than keyv's default serializer, which rewrites strings that start with ":"
// and turns ":base64:…" strings into Buffers: records written by earlier versions through keyv
// used this same format.
export const serialize = <V>(record: StoredRecord<V>): string => JSON.stringify(record);
export const deserialize = <V>(raw: string): StoredRecord<V> => JSON.parse(raw) as StoredRecord<V>;
export const isExpired = (record: StoredRecord<unknown>, now: number): boolean =>
  typeof record.expires === "number" && now > record.expires;
/** A counter value increment() may add 1 to: the result must stay an exact JS integer. */
export const isCountable = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) < Number.MAX_SAFE_INTEGER;

/** Rejects when `pending` has not settled within `ms`; what it does later is ignored. */
export function withDeadline<T>(pending: Promise<T> | T, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store gave no answer within ${ms} ms`)), ms);
  });
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}
