/**
 * The store port: the only way Baton keeps state.
 *
 * Small on purpose (design §7): every adapter passes one contract suite
 * (`test/contract/store.contract.ts`). Adapters throw `storeUnavailable` when the backend
 * cannot answer; they never read an error as "not found" (design §4 rule 8).
 *
 * Values are JSON-serialisable data (strings, numbers, booleans, null, arrays, plain
 * objects): what goes in comes back equal, through any adapter.
 *
 * @module store/store
 */

export interface IncrementOptions {
  /** false: the count may be answered before it is durable (see `Store.increment`). */
  readonly durable?: boolean;
}

export interface Store {
  /** The value, or undefined when absent or expired. */
  get<T>(key: string): Promise<T | undefined>;
  /** Several values at once, in the order of `keys`. */
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  /** Writes a value. `ttlMs` undefined means it never expires. */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /**
   * Writes the value only if the key is absent (or expired), atomically, across every process
   * that shares the backend. True when this call wrote it: the primitive for single-use records.
   */
  add(key: string, value: unknown, ttlMs?: number): Promise<boolean>;
  /**
   * Adds 1 to the integer counter at `key` and returns the new value, atomically across every
   * process sharing the backend. An absent or expired counter starts from 0 (so the first call
   * returns 1); `ttlMs` applies when the counter is created and is kept by later increments.
   *
   * The primitive for budgets (at most N of something across every process): of concurrent
   * calls, each gets a different value. `get` reads the counter as a number. A live value that
   * is not an integer is refused with a TypeError and left as it is.
   *
   * `durable: false` is for counts whose loss to a power cut costs nothing that matters (rate
   * limits: a window of attempts forgotten): the count is as atomic, but an adapter may answer
   * before it is on the disk. Budgets, approvals and revocations stay durable (the default).
   */
  increment(key: string, ttlMs?: number, options?: IncrementOptions): Promise<number>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Closes connections. The store is unusable afterwards. */
  close(): Promise<void>;
}
