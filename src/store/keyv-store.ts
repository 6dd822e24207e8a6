/**
 * The keyv adapter for the store port: `sqlite://PATH` (the embedded default, shareable by
 * several processes, in `sqlite-backend.ts`), `redis://HOST:PORT[/DB]` (many nodes, in
 * `redis-backend.ts`) and `memory://` (tests, in `memory-backend.ts`). This module is the one
 * entry point `main/` opens: it picks the backend from the URL and lays the port's rules over
 * it, so every backend keeps them alike.
 *
 * keyv's adapters (design §5) do the plain reads and writes; this store, not keyv, stamps and
 * checks every record's expiry, by the clock it is given (design §7: time is an argument). The
 * operations that decide who owns a record, `add` and `delete`, and the counter behind budgets,
 * `increment`, are one SQL statement each (SQLite) or one synchronous step on the Map (memory),
 * so that a single-use record is won by exactly one caller, and no two callers get the same
 * count, across every process sharing the backend (design §4 rule 6).
 *
 * Fail closed (design §4 rule 8): every backend error, thrown or rejected,
 * reaches the caller as `storeUnavailable` (503), never as "not found".
 *
 * Layout, which every process opening the same file must agree on: table `keyv(key, value)`,
 * key `<namespace>:<key>`, value `{"value":…,"expires":<ms since epoch>}` (no `expires`: the
 * record never expires). A record is expired once `now > expires`, keyv's own rule.
 *
 * @module store/keyv-store
 */

import { resolve } from "node:path";
import { type Clock, epochMs, systemClock } from "../clock.js";
import { storeUnavailable } from "../errors.js";
import { type Backend, deserialize, isExpired, serialize, withDeadline } from "./keyv-record.js";
import { memoryBackend } from "./memory-backend.js";
import { redisBackend } from "./redis-backend.js";
import { sqliteBackend } from "./sqlite-backend.js";
import type { Store } from "./store.js";

export interface KeyvStoreOptions {
  /**
   * Separates stores that share one backend. Letters, digits, `_`, `.` and `-` only: a `:`
   * would let namespace `a` key `b:c` and namespace `a:b` key `c` name the same row.
   */
  namespace?: string;
  /**
   * What expiries are stamped and read by (default: the system clock). A value set with
   * `ttlMs` reads back until this clock has moved `ttlMs` past the write, and not after. Redis
   * also drops records by its own clock (`PX`), the same instant when this is the system clock.
   */
  clock?: Clock;
  /**
   * Told of every backend error, for logs and metrics: each failed operation (which also
   * reaches its caller as `storeUnavailable`) and connection errors outside any call (a Redis
   * connection lost while idle).
   */
  onError?: (error: unknown) => void;
  /** Redis: the deadline of each command, after which the caller gets a 503. */
  timeoutMs?: number;
  /** SQLite: how often expired rows are deleted (ms). Redis expires keys by itself. */
  sweepMs?: number;
}

const DEFAULT_NAMESPACE = "baton";
const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]+$/;
const EXPECTED_URLS = "expected sqlite://PATH, redis://HOST:PORT[/DB] or memory://";
/** Redis' default command deadline: far above a healthy round trip, far below a hung request. */
const DEFAULT_TIMEOUT_MS = 500;
/** How often a SQLite store deletes expired rows: reads only skip them. */
const SWEEP_MS = 60_000;

/**
 * Opens the store named by a `--store` URL. Backend failures while opening reject with
 * `storeUnavailable`, whose cause names the setting; an unsupported URL throws a plain Error.
 */
export async function openKeyvStore(url: string, options: KeyvStoreOptions = {}): Promise<Store> {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`store namespace must match ${NAMESPACE_PATTERN}`);
  }
  const { onError } = options;
  const clock = options.clock ?? systemClock;
  const now = () => epochMs(clock);
  if (url === "memory://") return keyvStore(namespace, memoryBackend(), now, onError);
  if (url.startsWith("sqlite://")) {
    return keyvStore(
      namespace,
      await sqliteBackend(sqlitePath(url), options.sweepMs ?? SWEEP_MS, now, onError),
      now,
      onError,
    );
  }
  if (url.startsWith("redis://") || url.startsWith("rediss://")) {
    return keyvStore(
      namespace,
      await redisBackend(url, {
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        onError,
      }),
      now,
      onError,
    );
  }
  throw new Error(`--store: unsupported store URL${schemeOf(url)} (${EXPECTED_URLS})`);
}

/** The port over a backend: records stamped and read by `now` (ms since the epoch). */
function keyvStore(
  namespace: string,
  backend: Backend,
  now: () => number,
  onError: ((error: unknown) => void) | undefined,
): Store {
  const { timeoutMs } = backend;
  // Every key carries the namespace, whichever operation names it: `k` in namespace `baton` is
  // row `baton:k`, and key `baton:k` is row `baton:baton:k`.
  const prefixed = (key: string) => `${namespace}:${key}`;
  let closing: Promise<void> | undefined;
  // Operations started before close() finish before the backend closes: none is cut off.
  const inFlight = new Set<Promise<unknown>>();
  // A closed store refuses everything: some clients (node-redis) would quietly reconnect.
  const run = <T>(operation: () => Promise<T> | T): Promise<T> => {
    if (closing !== undefined) {
      return Promise.reject(storeUnavailable(new Error("the store is closed")));
    }
    const running = guard(
      timeoutMs === undefined ? operation : () => withDeadline(operation(), timeoutMs),
      onError,
    );
    inFlight.add(running);
    const settled = () => inFlight.delete(running);
    running.then(settled, settled);
    return running;
  };
  return {
    async get<T>(key: string) {
      const at = now();
      return liveValue<T>(await run(() => backend.get(prefixed(key), at)), at);
    },
    async getMany<T>(keys: readonly string[]) {
      const at = now();
      const raws = await run(async () =>
        keys.length === 0 ? [] : backend.getMany(keys.map(prefixed), at),
      );
      return raws.map((raw) => liveValue<T>(raw, at));
    },
    async set(key, value, ttlMs) {
      checkTtl(ttlMs);
      const record = serialize({ value, expires: expiry(now(), ttlMs) });
      await run(() => backend.set(prefixed(key), record, ttlMs));
    },
    async add(key, value, ttlMs) {
      checkTtl(ttlMs);
      const at = now();
      const record = serialize({ value, expires: expiry(at, ttlMs) });
      return run(() => backend.add(prefixed(key), record, at, ttlMs));
    },
    async increment(key, ttlMs, options) {
      checkTtl(ttlMs);
      const at = now();
      const fresh = serialize({ value: 1, expires: expiry(at, ttlMs) });
      const durable = options?.durable ?? true;
      const count = await run(() => backend.increment(prefixed(key), fresh, at, ttlMs, durable));
      // Not a 503: the backend answered, the key holds something else (a caller's mistake).
      if (count === undefined)
        throw new TypeError("the store value to increment is not an integer");
      return count;
    },
    async delete(key) {
      const raw = await run(() => backend.take(prefixed(key)));
      // An expired record already reads as absent: removing it deletes nothing a caller could
      // have seen, so a consume-by-delete cannot succeed on a record that has run out.
      return raw !== undefined && !isExpired(deserialize(raw), now());
    },
    close() {
      closing ??= Promise.allSettled(inFlight).then(() => guard(() => backend.close()));
      return closing;
    },
  };
}

/** Every backend error, whatever its shape, becomes a 503 (design §4 rule 8). */
async function guard<T>(
  operation: () => Promise<T> | T,
  onError?: (error: unknown) => void,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    onError?.(error);
    throw storeUnavailable(error);
  }
}

/** When a record written at `now` with `ttlMs` expires; undefined: never. */
function expiry(now: number, ttlMs: number | undefined): number | undefined {
  return ttlMs === undefined ? undefined : now + ttlMs;
}

/** The value of a raw record, or undefined when there is none or it has expired at `now`. */
function liveValue<T>(raw: string | undefined | null, now: number): T | undefined {
  if (raw === undefined || raw === null) return undefined;
  const record = deserialize<T>(raw);
  return isExpired(record, now) ? undefined : record.value;
}

/** A TTL of 0 reads as "never expires" to keyv: refuse it rather than keep a record forever. */
function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs === undefined || (Number.isFinite(ttlMs) && ttlMs > 0)) return;
  throw new RangeError("a store TTL must be a positive number of milliseconds");
}

// ---- sqlite:// ----------------------------------------------------------------------------

/** `sqlite://data/baton.db` is relative to the working directory; `sqlite:///abs` is absolute. */
function sqlitePath(url: string): string {
  const path = url.slice("sqlite://".length);
  if (path === "") throw new Error(`--store: sqlite:// needs a file path (${EXPECTED_URLS})`);
  return resolve(path);
}

/** The scheme only: a URL may carry credentials (redis://:password@host), never echo it. */
function schemeOf(url: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1];
  return scheme === undefined ? "" : ` scheme "${scheme}:"`;
}
