/**
 * The audit log: one JSON object per line, to a file (appended) or to stderr.
 *
 * Never stdout: on `baton mcp` stdout is the MCP channel.
 *
 * @module audit/audit-log
 */

import {
  closeSync,
  createWriteStream,
  fstatSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import type { Clock } from "../clock.js";
import { auditUnavailable } from "../errors.js";
import type { AuditEvent, AuditSink } from "./events.js";

/** `fs.fsync`'s shape: what makes the bytes written to a descriptor durable. */
export type Fsync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

/** Makes everything written so far durable, then calls `done`. */
export type Flush = (done: (error: Error | null) => void) => void;

export interface AuditLogOptions {
  /**
   * `--audit-sync`: `written()` waits until the line is on the disk (fsynced), not only handed
   * to the operating system. A file only: stderr cannot be synced.
   */
  readonly sync?: boolean;
  /** The fsync to call (`fs.fsync` by default): a test holds it to watch what waits on it. */
  readonly fsync?: Fsync;
}

/**
 * Writes events as JSON lines to `destination`: `"stderr"`, or a file path. `onError` hears,
 * once, of the write (or fsync) error that stops the log.
 */
export function openAuditLog(
  destination: string,
  clock: Clock,
  onError?: (error: unknown) => void,
  options: AuditLogOptions = {},
): AuditSink {
  if (destination === "stderr") {
    if (options.sync) throw new Error("the audit log on stderr cannot be synced to a disk");
    return jsonLinesSink(process.stderr, clock, false, onError);
  }
  mkdirSync(dirname(destination), { recursive: true, mode: 0o700 });
  const fd = openSync(destination, "a", 0o600);
  const fsyncFd = options.fsync ?? fsync;
  // A file created now must still have its name after a power loss.
  if (options.sync) syncDirectory(dirname(destination));
  const flush: Flush | undefined = options.sync ? (done) => fsyncFd(fd, done) : undefined;
  if (fstatSync(fd).isFile()) return fileSink(fd, clock, onError, flush);
  // A named pipe (or a device) can block a write for as long as its reader pauses: written
  // through the thread pool, so that a stopped reader holds the tokens, never the node.
  return jsonLinesSink(createWriteStream(destination, { fd }), clock, true, onError, flush);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A regular file: the lines recorded during one turn of the event loop are appended with one
 * synchronous `write` at its end (setImmediate), and `written()` resolves once they are in the
 * file. An append to the page cache takes microseconds; handing it to libuv's thread pool
 * instead cost each token a round trip between threads that waited longer than the write
 * itself (issue 19: ~0.1 ms of a sequential exchange on this VM). Under load, every exchange
 * finished in one turn shares the write: a group commit, like the SQLite adapter's. The file
 * is opened with O_APPEND, so one write is one unbroken run of lines even when several
 * processes share the file.
 *
 * The file must be on a local disk: a disk that stalls stalls the node with it. Failures, and
 * `flush` (`--audit-sync`), behave as in `jsonLinesSink`: a failed write refuses the tokens
 * waiting on it and stops the log (every later exchange 503, the node unready).
 */
function fileSink(
  fd: number,
  clock: Clock,
  onError: ((error: unknown) => void) | undefined,
  flush?: Flush,
): AuditSink {
  const stop = firstFailure(onError);
  const { fail } = stop;
  const synced = flush ? groupCommit(flush, fail) : undefined;
  let pending: string[] = [];
  let batch: Waiters | undefined;
  // The last batch: settled once its lines are in the file (and synced, with a flush), or failed.
  let last: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;
  const write = () => {
    const lines = pending;
    const done = batch as Waiters;
    pending = [];
    batch = undefined;
    try {
      if (stop.failed) throw stop.failed.error;
      appendAll(fd, lines.join(""));
      done.resolve();
    } catch (error) {
      fail(error);
      done.reject(auditUnavailable(error));
    }
  };
  return {
    record(event) {
      if (stop.failed) throw auditUnavailable(stop.failed.error);
      pending.push(`${JSON.stringify({ ts: clock.now(), ...event })}\n`);
      if (batch) return;
      batch = waiters();
      setImmediate(write);
      last = synced ? batch.promise.then(synced) : batch.promise;
      // Nobody may be waiting on this batch; its failure is reported through `failure()`.
      last.catch(() => undefined);
    },
    written: () => last,
    close() {
      // The batch still to be written, and a flush in flight, need the descriptor.
      closing ??= last.catch(() => undefined).then(() => closeSync(fd));
      return closing;
    },
    failure: () => stop.failed?.error,
  };
}

/** One append of `text`: `write` may take fewer bytes than asked (a signal), so loop. */
function appendAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
}

/**
 * A sink over any writable stream; `owned` streams are ended by `close`.
 *
 * A write error (a full disk) does not crash the process, nor is it ignored: from then on
 * `record` throws `auditUnavailable`, so every exchange is refused with 503 rather than issued
 * unrecorded, and `failure()` makes the node unready.
 *
 * `record` only queues the line; `written()` waits for the write of the last line queued.
 * Writes complete in order, so that covers every line before it, and the stream hands all
 * lines queued meanwhile to one `writev`: many exchanges in flight share one write (a group
 * commit, like the SQLite adapter's). An event whose write failed was never confirmed, so the
 * token waiting on it is refused too. Written is not synced: a power loss can still lose the
 * last lines (docs/operations.md), unless a `flush` is given (`--audit-sync`): then `written()`
 * also waits for a flush that started after the line was written, and a flush that fails stops
 * the log as a failed write does.
 */
export function jsonLinesSink(
  stream: Writable,
  clock: Clock,
  owned: boolean,
  onError?: (error: unknown) => void,
  flush?: Flush,
): AuditSink {
  const stop = firstFailure(onError);
  const { fail } = stop;
  stream.on("error", fail);
  const synced = flush ? groupCommit(flush, fail) : undefined;
  // The last line queued: settled once it is in the file (and synced, with a flush), or failed.
  let last: Promise<void> = Promise.resolve();
  return {
    record(event) {
      if (stop.failed) throw auditUnavailable(stop.failed.error);
      const line = `${JSON.stringify({ ts: clock.now(), ...event })}\n`;
      const written = new Promise<void>((resolve, reject) => {
        stream.write(line, (error) => (error ? reject(auditUnavailable(error)) : resolve()));
      });
      last = synced ? written.then(synced) : written;
      // Nobody may be waiting on this line; its failure is reported through `failure()`.
      last.catch(() => undefined);
    },
    written: () => last,
    close() {
      if (!owned || stop.failed) return Promise.resolve();
      const end = () => new Promise<void>((resolve) => stream.end(resolve));
      // A flush in flight still needs the descriptor that `end` closes.
      return synced ? last.catch(() => undefined).then(end) : end();
    },
    failure: () => stop.failed?.error,
  };
}

/** The first error that stops a sink: told to `onError` once, then kept for `failure()`. */
function firstFailure(onError: ((error: unknown) => void) | undefined) {
  let failed: { error: unknown } | undefined;
  return {
    fail(error: unknown) {
      if (failed) return;
      failed = { error };
      onError?.(error);
    },
    get failed() {
      return failed;
    },
  };
}

interface Waiters {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiters(): Waiters {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Group commit over `flush`: the returned function resolves once a flush that started after
 * the call has finished. Callers that arrive while a flush runs wait for the next one, which
 * they all share: one fsync per batch, never one per line. The first flush of a batch starts a
 * microtask late, so every line of one `writev` (whose callbacks run in one loop) joins it.
 * After a failed flush every caller, waiting or later, is refused with `auditUnavailable`.
 */
function groupCommit(flush: Flush, fail: (error: unknown) => void): () => Promise<void> {
  let next: Waiters | undefined;
  let flushing = false;
  let failure: { error: unknown } | undefined;
  const start = () => {
    const batch = next;
    if (!batch) return;
    next = undefined;
    flushing = true;
    flush((error) => {
      flushing = false;
      if (error) {
        failure = { error };
        fail(error);
        batch.reject(auditUnavailable(error));
        next?.reject(auditUnavailable(error));
        next = undefined;
        return;
      }
      batch.resolve();
      start();
    });
  };
  return () => {
    if (failure) return Promise.reject(auditUnavailable(failure.error));
    if (!next) {
      next = waiters();
      if (!flushing) queueMicrotask(start);
    }
    return next.promise;
  };
}

/** Keeps events in memory: for tests that assert on what was recorded. */
export function memoryAuditLog(): AuditSink & { readonly events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    record: (event) => {
      events.push(event);
    },
    written: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
