/**
 * The events of a task's delegation tree, from the store, so that every node draws the same
 * tree (issue 8): the operations append each task event to the task's log (`appendToTaskLog`, a
 * step of theirs, not a side effect of auditing), and `taskTreeEvents` reads it back with the revocations the store knows of.
 *
 * Revocations are read from the revocation marks, not copied as events: a token is often
 * revoked through another (its parent, or the user's token the opener entered with), on any
 * node, and the marks are what rule 7 enforces. Each mark holds the time it was made.
 *
 * @module exchange/steps/task-tree-events
 */

import type { AuditEvent } from "../../audit/events.js";
import type { LoggedEvent } from "../../audit/task-tree.js";
import type { Store } from "../../store/store.js";
import { appendTaskEvent, readTaskLog } from "../../tasks/task-log.js";
import type { ExchangeDeps } from "../types.js";
import { devRoot, revokedAt } from "./lineage.js";

/** The events a task's tree is drawn from. */
type TaskLogEvent = Extract<
  AuditEvent,
  { type: "task.started" | "task.ended" | "exchange.issued" | "approval.requested" }
>;

/** A task's log outlives its deadline by a day: the tree stays viewable after the task. */
const KEEP_AFTER_SECONDS = 86_400;

/**
 * A step of the operations that make a task's tree (start, end, an exchange inside the task,
 * an approval asked inside it): appends the event to the task's log in the store, kept a day
 * past `until` (epoch seconds: the task's deadline, the token's or the approval's expiry). The
 * operation awaits it before it answers, so a token leaves only once its tree entry is stored
 * (a child never precedes its parent), and a failed append fails the operation (503), like the
 * store (rule 8).
 */
export async function appendToTaskLog(
  deps: Pick<ExchangeDeps, "store" | "clock">,
  taskId: string,
  until: number,
  event: TaskLogEvent,
): Promise<void> {
  const now = deps.clock.now();
  const ttlMs = (Math.max(until - now, 0) + KEEP_AFTER_SECONDS) * 1000;
  await appendTaskEvent(deps.store, taskId, { ts: now, ...event }, ttlMs);
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
