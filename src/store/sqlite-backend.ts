/**
 * The `sqlite://PATH` backend of the keyv store: the embedded default, one file that several
 * processes may share. keyv's `@keyv/sqlite` does the plain reads; the operations that decide
 * who owns a record (`add`, `take`) and the budget counter (`increment`) are one SQL statement
 * each, so they are atomic across every process on the file (design §4 rule 6). Writes share
 * group commits (issue 7), and a timer sweeps expired rows, which reads skip already.
 *
 * @module store/sqlite-backend
 */

import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import { storeUnavailable } from "../errors.js";
import type { Backend } from "./keyv-record.js";

/** How long SQLite waits for another process's write lock before failing (then: 503). */
const BUSY_TIMEOUT_MS = 5_000;
/** Rows one sweep statement deletes at most: a short write lock, even after a long pause. */
const SWEEP_BATCH = 5_000;

/**
 * Opens (creating it, owner-only) the database at `path`, and sweeps expired rows every
 * `sweepMs`. A failure to open rejects with `storeUnavailable`, whose cause names the file.
 */
export async function sqliteBackend(
  path: string,
  sweepMs: number,
  now: () => number,
  onError: ((error: unknown) => void) | undefined,
): Promise<Backend> {
  let adapter: SqliteAdapter | undefined;
  let counts: SqliteAdapter | undefined;
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
    // Counts that need not survive a power cut (Store.increment, `durable: false`) commit on a
    // connection of their own at synchronous=NORMAL: no fsync of their own, yet as atomic (one
    // statement), and safe for the rest: in WAL mode the next FULL commit, from any connection,
    // syncs the log up to its own frames, the counts' before them included, and checkpoints
    // still sync the database. Rate limits without it cost each exchange two fsyncs (issue 19).
    counts = new SqliteAdapter({ uri: `sqlite://${path}`, busyTimeout: BUSY_TIMEOUT_MS });
    await counts.query("PRAGMA synchronous=NORMAL");
  } catch (error) {
    await Promise.all([adapter, counts].map((c) => c?.close().catch(() => undefined)));
    throw storeUnavailable(new Error(`--store: cannot open sqlite://${path}`, { cause: error }));
  }
  const sqlite = adapter;
  const lossy = counts;
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
    increment: (key, fresh, now, _ttlMs, durable) =>
      (durable === false ? lossy : sqlite).increment(key, fresh, now),
    take: (key) => sqlite.take(key),
    close: async () => {
      clearInterval(sweep);
      await sqlite.drained();
      await Promise.all([sqlite.close(), lossy.close()]);
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
