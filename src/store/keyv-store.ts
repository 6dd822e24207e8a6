/**
 * The keyv adapter for the store port: `sqlite://PATH` (the embedded default, shareable by
 * several processes), `redis://HOST:PORT[/DB]` (many nodes, in `redis-backend.ts`) and
 * `memory://` (tests).
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

import { mkdir, open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import { type Clock, epochMs, systemClock } from "../clock.js";
import { storeUnavailable } from "../errors.js";
import {
  type Backend,
  deserialize,
  isCountable,
  isExpired,
  serialize,
  withDeadline,
} from "./keyv-record.js";
import { redisBackend } from "./redis-backend.js";
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
/** How long SQLite waits for another process's write lock before failing (then: 503). */
const BUSY_TIMEOUT_MS = 5_000;
/** How often a SQLite store deletes expired rows: reads only skip them. */
const SWEEP_MS = 60_000;
/** Rows one sweep statement deletes at most: a short write lock, even after a long pause. */
const SWEEP_BATCH = 5_000;

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
    async increment(key, ttlMs) {
      checkTtl(ttlMs);
      const at = now();
      const fresh = serialize({ value: 1, expires: expiry(at, ttlMs) });
      const count = await run(() => backend.increment(prefixed(key), fresh, at, ttlMs));
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

// ---- memory:// ----------------------------------------------------------------------------

function memoryBackend(): Backend {
  const map = new MemoryMap();
  return {
    get: (key, now) => map.read(key, now),
    getMany: async (keys, now) => keys.map((key) => map.read(key, now)),
    set: (key, record) => {
      map.set(key, record);
    },
    add: (key, record, now) => map.add(key, record, now),
    increment: (key, fresh, now) => map.increment(key, fresh, now),
    take: (key) => map.take(key),
    close: async () => map.close(),
  };
}

/** Records in a Map; every step is synchronous, so nothing runs in between its parts. */
class MemoryMap extends Map<string, string> {
  #closed = false;

  /** The record at `key`; an expired one is dropped on the way, as nothing else sweeps. */
  read(key: string, now: number): string | undefined {
    const raw = this.get(key);
    if (raw === undefined || !isExpired(deserialize(raw), now)) return raw;
    this.delete(key);
    return undefined;
  }

  override get(key: string): string | undefined {
    this.#checkOpen();
    return super.get(key);
  }

  override set(key: string, value: string): this {
    this.#checkOpen();
    return super.set(key, value);
  }

  /** Synchronous check-and-set: nothing else runs between the check and the write. */
  add(key: string, record: string, now: number): boolean {
    const raw = this.get(key);
    if (raw !== undefined && !isExpired(deserialize(raw), now)) return false;
    this.set(key, record);
    return true;
  }

  /** Synchronous read-modify-write: nothing else runs between the read and the write. */
  increment(key: string, fresh: string, now: number): number | undefined {
    const raw = this.get(key);
    const record = raw === undefined ? undefined : deserialize(raw);
    if (record === undefined || isExpired(record, now)) {
      this.set(key, fresh);
      return 1;
    }
    if (!isCountable(record.value)) return undefined;
    const value = record.value + 1;
    this.set(key, serialize({ ...record, value }));
    return value;
  }

  take(key: string): string | undefined {
    const raw = this.get(key);
    this.delete(key);
    return raw;
  }

  close(): void {
    this.#closed = true;
    super.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("the memory store is closed");
  }
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

async function sqliteBackend(
  path: string,
  sweepMs: number,
  now: () => number,
  onError: ((error: unknown) => void) | undefined,
): Promise<Backend> {
  let adapter: SqliteAdapter | undefined;
  try {
    // 0700/0600: the store holds grants and token state; only the broker's user reads it.
    // SQLite gives the -wal and -shm files the database file's mode.
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await (await open(path, "a", 0o600)).close();
    adapter = new SqliteAdapter({ uri: `sqlite://${path}`, busyTimeout: BUSY_TIMEOUT_MS });
    // WAL: readers do not block the writer, so processes sharing the file rarely wait; the
    // busy timeout covers the waits that remain (one writer at a time). `synchronous` stays
    // FULL, SQLite's default: a commit is on disk before the caller hears of it, so a power loss
    // cannot bring back a revoked token or a used approval.
    await adapter.query("PRAGMA journal_mode=WAL");
  } catch (error) {
    await adapter?.close().catch(() => undefined);
    throw storeUnavailable(new Error(`--store: cannot open sqlite://${path}`, { cause: error }));
  }
  const sqlite = adapter;
  // Expired rows read as absent already; the sweep only gives their space back. A failed sweep
  // is told to onError and tried again next time: no caller waits on it.
  const sweep = setInterval(() => {
    sqlite.sweep(now(), SWEEP_BATCH).catch((error: unknown) => onError?.(error));
  }, sweepMs);
  sweep.unref();
  return {
    get: (key) => sqlite.get<string>(key),
    getMany: (keys) => sqlite.getMany<string>([...keys]) as Promise<(string | undefined)[]>,
    set: (key, record) => sqlite.set(key, record),
    add: (key, record, now) => sqlite.add(key, record, now),
    increment: (key, fresh, now) => sqlite.increment(key, fresh, now),
    take: (key) => sqlite.take(key),
    close: async () => {
      clearInterval(sweep);
      await sqlite.drained();
      await sqlite.close();
    },
  };
}

type Row = { key: string; value: string };

interface PendingWrite {
  readonly key: string;
  readonly value: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Most rows in one group commit: 2 bound values each, far below SQLite's variable limit. */
const MAX_GROUP = 256;

/** @keyv/sqlite, plus the single-statement operations keyv does not offer. */
class SqliteAdapter extends KeyvSqlite {
  /** Writes waiting for the next commit. */
  #pending: PendingWrite[] = [];
  /** True while a commit is in flight. */
  #committing = false;
  #idle: (() => void)[] = [];

  get #table(): string {
    return this.opts.table ?? "keyv";
  }

  /**
   * Group commit (issue 7): a write that arrives while another commit is in flight waits for
   * the next one, and shares it with every write that arrived meanwhile: one statement, one
   * transaction, one WAL sync for all of them. Each caller's promise still resolves only once
   * its own row is committed, at SQLite's default `synchronous=FULL`: nothing a caller was
   * told is written can be lost to a crash (design §4 rule 8). With no write in flight, a write
   * commits at once, alone, as before.
   */
  override set(key: string, value: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ key, value, resolve, reject });
      if (!this.#committing) this.#commit();
    });
  }

  /** Resolves once no write is waiting or in flight: closing must not strand one. */
  drained(): Promise<void> {
    if (!this.#committing) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #commit(): void {
    const group = this.#pending.splice(0, MAX_GROUP);
    if (group.length === 0) {
      this.#committing = false;
      for (const wake of this.#idle.splice(0)) wake();
      return;
    }
    this.#committing = true;
    // Within a group the last write of a key wins, as it would one statement after another
    // (and one INSERT may not upsert the same row twice).
    const rows = new Map<string, string>();
    for (const write of group) {
      rows.delete(write.key);
      rows.set(write.key, write.value);
    }
    this.query(
      `INSERT INTO ${this.#table}(key, value) VALUES ${Array.from(rows, () => "(?, ?)").join(", ")}
       ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      ...Array.from(rows).flat(),
    )
      .then(
        () => {
          for (const write of group) write.resolve();
        },
        (error: unknown) => {
          for (const write of group) write.reject(error);
        },
      )
      .finally(() => this.#commit());
  }

  /**
   * One statement, so atomic across connections: insert, or replace a row whose record has
   * expired; RETURNING yields a row only when this call wrote.
   */
  async add(key: string, record: string, now: number): Promise<boolean> {
    const table = this.#table;
    const rows: Row[] = await this.query(
      `INSERT INTO ${table}(key, value) VALUES(?, ?)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value
       WHERE json_extract(${table}.value, '$.expires') < ?
       RETURNING key`,
      key,
      record,
      now,
    );
    return rows.length > 0;
  }

  /**
   * One statement, so atomic across connections: insert `fresh`, replace an expired record with
   * it, or add 1 to a live integer keeping its `expires`. A live value that is not an integer
   * (below 2^53 - 1, like isCountable) fails the WHERE: nothing is written, no row returned.
   */
  async increment(key: string, fresh: string, now: number): Promise<number | undefined> {
    const table = this.#table;
    const expired = `json_extract(${table}.value, '$.expires') < ?3`;
    const rows: { count: number }[] = await this.query(
      `INSERT INTO ${table}(key, value) VALUES(?1, ?2)
       ON CONFLICT(key) DO UPDATE SET value = CASE
         WHEN ${expired} THEN excluded.value
         ELSE json_set(${table}.value, '$.value', json_extract(${table}.value, '$.value') + 1)
       END
       WHERE ${expired}
         OR (json_type(${table}.value, '$.value') = 'integer'
             AND json_extract(${table}.value, '$.value') < ${Number.MAX_SAFE_INTEGER})
       RETURNING json_extract(value, '$.value') AS count`,
      key,
      fresh,
      now,
    );
    return rows[0]?.count;
  }

  /**
   * Deletes up to `limit` rows expired at `now`; the number deleted. Each row's expiry is
   * checked in the statement itself, so a record add()ed fresh meanwhile is never removed.
   */
  async sweep(now: number, limit: number): Promise<number> {
    const table = this.#table;
    const rows: Row[] = await this.query(
      `DELETE FROM ${table} WHERE rowid IN (
         SELECT rowid FROM ${table} WHERE json_extract(value, '$.expires') < ? LIMIT ?
       ) RETURNING key`,
      now,
      limit,
    );
    return rows.length;
  }

  /** One statement: of two concurrent deletes, only one gets the row back. */
  async take(key: string): Promise<string | undefined> {
    const rows: Row[] = await this.query(
      `DELETE FROM ${this.#table} WHERE key = ? RETURNING value`,
      key,
    );
    return rows[0]?.value;
  }
}
