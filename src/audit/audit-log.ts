/**
 * The audit log: one JSON object per line, to a file (appended) or to stderr.
 *
 * Never stdout: on `baton mcp` stdout is the MCP channel.
 *
 * @module audit/audit-log
 */

import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import type { Clock } from "../clock.js";
import { auditUnavailable } from "../errors.js";
import type { AuditEvent, AuditSink } from "./events.js";

/**
 * Writes events as JSON lines to `destination`: `"stderr"`, or a file path. `onError` hears,
 * once, of the write error that stops the log.
 */
export function openAuditLog(
  destination: string,
  clock: Clock,
  onError?: (error: unknown) => void,
): AuditSink {
  if (destination === "stderr") return jsonLinesSink(process.stderr, clock, false, onError);
  mkdirSync(dirname(destination), { recursive: true, mode: 0o700 });
  const file = createWriteStream(destination, { flags: "a", mode: 0o600 });
  return jsonLinesSink(file, clock, true, onError);
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
 * last lines (docs/operations.md).
 */
export function jsonLinesSink(
  stream: Writable,
  clock: Clock,
  owned: boolean,
  onError?: (error: unknown) => void,
): AuditSink {
  let failed: { error: unknown } | undefined;
  stream.on("error", (error: unknown) => {
    if (failed) return;
    failed = { error };
    onError?.(error);
  });
  // The write of the last line queued: settled when it is in the file, or failed.
  let last: Promise<void> = Promise.resolve();
  return {
    record(event) {
      if (failed) throw auditUnavailable(failed.error);
      const line = `${JSON.stringify({ ts: clock.now(), ...event })}\n`;
      last = new Promise((resolve, reject) => {
        stream.write(line, (error) => (error ? reject(auditUnavailable(error)) : resolve()));
      });
      // Nobody may be waiting on this line; its failure is reported through `failure()`.
      last.catch(() => undefined);
    },
    written: () => last,
    close() {
      if (!owned || failed) return Promise.resolve();
      return new Promise((resolve) => stream.end(resolve));
    },
    failure: () => failed?.error,
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
