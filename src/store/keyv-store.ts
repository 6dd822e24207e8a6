/**
 * The keyv adapter for the store port: `sqlite://PATH` (the embedded default, shareable by
 * several processes), `redis://HOST:PORT[/DB]` (many nodes, in `redis-backend.ts`) and
 * `memory://` (tests).
 *
 * The only file that imports keyv (design §5). keyv does the plain reads and writes. The
 * operations that decide who owns a record, `add` and `delete`, and the counter behind budgets,
 * `increment`, are one SQL statement each (SQLite) or one synchronous step on the Map (memory),
 * so that a single-use record is won by exactly one caller, and no two callers get the same
 * count, across every process sharing the backend (design §4 rule 6).
 *
 * Fail closed (design §4 rule 8): keyv runs with `throwOnErrors`, and every backend error
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
import { storeUnavailable } from "../errors.js";
import {
  type Backend,
  deserialize,
  isCountable,
  isExpired,
  newKeyv,
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
/** How often a SQLite store deletes expired rows: keyv only drops the rows it reads again. */
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
  if (url === "memory://") return keyvStore(namespace, memoryBackend(), onError);
  if (url.startsWith("sqlite://")) {
    return keyvStore(
      namespace,
      await sqliteBackend(sqlitePath(url), options.sweepMs ?? SWEEP_MS, onError),
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
      onError,
    );
  }
  throw new Error(`--store: unsupported store URL${schemeOf(url)} (${EXPECTED_URLS})`);
}

/** The port over keyv plus a backend's atomic operations. */
function keyvStore(
  namespace: string,
  backend: Backend,
  onError: ((error: unknown) => void) | undefined,
): Store {
  const { keyv, timeoutMs } = backend;
  // Prefixed here, not by keyv: keyv leaves a key that already starts with `<namespace>:` as it
  // is in get/set but prefixes it again in getMany, so `k` and `baton:k` would share a row.
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
    get<T>(key: string) {
      return run(() => keyv.get<T>(prefixed(key)));
    },
    getMany<T>(keys: readonly string[]) {
      return run(() => keyv.getMany<T>(keys.map(prefixed)));
    },
    async set(key, value, ttlMs) {
      checkTtl(ttlMs);
      const written = await run(() => keyv.set(prefixed(key), value, ttlMs));
      // keyv reports an adapter that declined the write as `false` rather than throwing.
      if (!written) throw storeUnavailable(new Error("the store did not write the value"));
    },
    async add(key, value, ttlMs) {
      checkTtl(ttlMs);
      const now = Date.now();
      const record = serialize({ value, expires: ttlMs === undefined ? undefined : now + ttlMs });
      return run(() => backend.add(prefixed(key), record, now, ttlMs));
    },
    async increment(key, ttlMs) {
      checkTtl(ttlMs);
      const now = Date.now();
      const fresh = serialize({ value: 1, expires: ttlMs === undefined ? undefined : now + ttlMs });
      const count = await run(() => backend.increment(prefixed(key), fresh, now, ttlMs));
      // Not a 503: the backend answered, the key holds something else (a caller's mistake).
      if (count === undefined)
        throw new TypeError("the store value to increment is not an integer");
      return count;
    },
    async delete(key) {
      const raw = await run(() => backend.take(prefixed(key)));
      // An expired record already reads as absent: removing it deletes nothing a caller could
      // have seen, so a consume-by-delete cannot succeed on a record that has run out.
      return raw !== undefined && !isExpired(deserialize(raw), Date.now());
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

/** keyv reads a TTL of 0 as "never expires": refuse it rather than keep a record forever. */
function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs === undefined || (Number.isFinite(ttlMs) && ttlMs > 0)) return;
  throw new RangeError("a store TTL must be a positive number of milliseconds");
}

// ---- memory:// ----------------------------------------------------------------------------

function memoryBackend(): Backend {
  const map = new MemoryMap();
  return {
    keyv: newKeyv(map),
    add: (key, record, now) => map.add(key, record, now),
    increment: (key, fresh, now) => map.increment(key, fresh, now),
    take: (key) => map.take(key),
    close: async () => map.close(),
  };
}

/** keyv's Map store, adjusted so that keyv's own paths cannot break add() or fail open. */
class MemoryMap extends Map<string, string> {
  #closed = false;

  // keyv calls delete only to drop a record it has just read as expired, and awaits in between:
  // a fresh record add()ed meanwhile must survive, or a second add() could win the key.
  override delete(key: string): boolean {
    const raw = this.get(key);
    if (raw === undefined || !isExpired(deserialize(raw), Date.now())) return false;
    return super.delete(key);
  }

  // Without getMany, keyv reads a Map through Promise.allSettled, turning errors into
  // "missing": with it, a closed store fails getMany as it fails get.
  getMany(keys: string[]): (string | undefined)[] {
    return keys.map((key) => this.get(key));
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
    super.delete(key);
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
    sqlite.sweep(Date.now(), SWEEP_BATCH).catch((error: unknown) => onError?.(error));
  }, sweepMs);
  sweep.unref();
  return {
    keyv: newKeyv(sqlite),
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

  // keyv calls delete/deleteMany only to drop records it has just read as expired. Upstream
  // selects then deletes by key, which can remove a fresh record another process add()ed in
  // between and let a second add() win. Re-checking expiry in the DELETE keeps that record.
  // (No `expires`: json_extract is NULL, the comparison is not true, the row stays.)
  override async delete(key: string): Promise<boolean> {
    const rows: Row[] = await this.query(
      `DELETE FROM ${this.#table} WHERE key = ? AND json_extract(value, '$.expires') < ? RETURNING key`,
      key,
      Date.now(),
    );
    return rows.length > 0;
  }

  override async deleteMany(keys: string[]): Promise<boolean> {
    const rows: Row[] = await this.query(
      `DELETE FROM ${this.#table} WHERE key IN (SELECT value FROM json_each(?))
       AND json_extract(value, '$.expires') < ? RETURNING key`,
      JSON.stringify(keys),
      Date.now(),
    );
    return rows.length > 0;
  }
}
