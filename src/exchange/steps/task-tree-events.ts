/**
 * The events of a task's delegation tree, from the store, so that every node draws the same
 * tree (issue 8): `withTaskLog` copies each task event into the task's log as it is recorded,
 * and `taskTreeEvents` reads it back with the revocations the store knows of.
 *
 * Revocations are read from the revocation marks, not copied as events: a token is often
 * revoked through another (its parent, or the user's token the opener entered with), on any
 * node, and the marks are what rule 7 enforces. Each mark holds the time it was made.
 *
 * @module exchange/steps/task-tree-events
 */

import type { AuditEvent, AuditSink } from "../../audit/events.js";
import type { LoggedEvent } from "../../audit/task-tree.js";
import type { Clock } from "../../clock.js";
import type { Store } from "../../store/store.js";
import { appendTaskEvent, readTaskLog } from "../../tasks/task-log.js";
import { devRoot, revokedAt } from "./lineage.js";

/** A task's log outlives its deadline by a day: the tree stays viewable after the task. */
const KEEP_AFTER_SECONDS = 86_400;

/** The task an event belongs to, and until when it matters (epoch seconds). */
function taskOf(event: AuditEvent, now: number): { task: string; until: number } | undefined {
  switch (event.type) {
    case "task.started":
      return { task: event.task, until: event.deadline };
    case "task.ended":
      return { task: event.task, until: now };
    case "exchange.issued":
      return event.txn === undefined ? undefined : { task: event.txn, until: event.exp };
    case "approval.requested":
      return event.txn === undefined ? undefined : { task: event.txn, until: event.expires_at };
    default:
      return undefined;
  }
}

/**
 * Copies every task event into its task's log in the store. `written()` waits for the copies
 * in flight too: a token leaves only once its tree entry is stored, so a child never precedes
 * its parent, and a copy that fails fails the exchange waiting on it (503), like the store.
 */
export function withTaskLog(sink: AuditSink, store: Store, clock: Clock): AuditSink {
  /** Copies in flight: `written()` waits for these (and sees their failure: 503). */
  const copying = new Set<Promise<void>>();
  return {
    record(event) {
      sink.record(event);
      const now = clock.now();
      const target = taskOf(event, now);
      if (!target) return;
      const ttlMs = (Math.max(target.until - now, 0) + KEEP_AFTER_SECONDS) * 1000;
      const copy = appendTaskEvent(store, target.task, { ts: now, ...event }, ttlMs);
      copying.add(copy);
      // Settled either way, it leaves the set; a failure is only for whoever waits on it.
      const done = () => copying.delete(copy);
      copy.then(done, done);
    },
    async written() {
      await Promise.all([sink.written(), ...copying]);
    },
    close: () => sink.close(),
    failure: () => sink.failure?.(),
  };
}

/**
 * The task's events for `buildTaskTree`: its log, then a `token.revoked` for each of its
 * tokens, and each token a root of it was exchanged from, that the store marks revoked.
 */
export async function taskTreeEvents(store: Store, taskId: string): Promise<LoggedEvent[]> {
  const events = await readTaskLog(store, taskId);
  const ids = new Set<string>();
  for (const e of events) {
    if (e.type !== "exchange.issued") continue;
    ids.add(e.jti);
    if (e.parent_jti !== undefined) ids.add(e.parent_jti);
  }
  // A development token is marked under its own lineage id (lineage.ts `devRoot`).
  const jtis = [...ids];
  const lineageIds = jtis.flatMap((jti) => [jti, devRoot(jti)]);
  const marks = await revokedAt(store, lineageIds);
  const revocations: LoggedEvent[] = [];
  jtis.forEach((jti, i) => {
    const at = marks[2 * i] ?? marks[2 * i + 1];
    if (at !== undefined) revocations.push({ type: "token.revoked", jti, by: "store", ts: at });
  });
  return [...events, ...revocations];
}
