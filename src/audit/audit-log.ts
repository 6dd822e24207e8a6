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
import type { AuditEvent, AuditSink } from "./events.js";

/** Writes events as JSON lines to `destination`: `"stderr"`, or a file path. */
export function openAuditLog(destination: string, clock: Clock): AuditSink {
  if (destination === "stderr") return jsonLinesSink(process.stderr, clock, false);
  mkdirSync(dirname(destination), { recursive: true, mode: 0o700 });
  return jsonLinesSink(createWriteStream(destination, { flags: "a", mode: 0o600 }), clock, true);
}

/** A sink over any writable stream; `owned` streams are ended by `close`. */
export function jsonLinesSink(stream: Writable, clock: Clock, owned: boolean): AuditSink {
  return {
    record(event) {
      stream.write(`${JSON.stringify({ ts: clock.now(), ...event })}\n`);
    },
    close() {
      if (!owned) return Promise.resolve();
      return new Promise((resolve) => stream.end(resolve));
    },
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
    close: () => Promise.resolve(),
  };
}
