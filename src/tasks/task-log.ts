/**
 * A task's own copy of its audit events, in the store (issue 8's delegation tree, on many
 * nodes): each node writes its own audit file, but every node shares the store, so the tree
 * of a task is drawn the same whichever node serves the page, and also when the audit log goes
 * to stderr.
 *
 * An append is an `increment` of the task's counter, then the event under that number: the
 * counter orders events across nodes, and a token's event is written before the token leaves
 * (the audit sink waits for it), so a parent always comes before the tokens exchanged from it.
 *
 * @module tasks/task-log
 */

import type { LoggedEvent } from "../audit/task-tree.js";
import type { Store } from "../store/store.js";

/** Most events read back for one tree: far above a real task (max_task_tokens defaults to 1000). */
export const TASK_LOG_LIMIT = 10_000;

const countKey = (taskId: string) => `task-log:${taskId}`;
const entryKey = (taskId: string, n: number) => `task-log:${taskId}:${n}`;

/** Appends one event to the task's log, kept for `ttlMs`. */
export async function appendTaskEvent(
  store: Store,
  taskId: string,
  event: LoggedEvent,
  ttlMs: number,
): Promise<void> {
  const n = await store.increment(countKey(taskId), ttlMs);
  await store.set(entryKey(taskId, n), event, ttlMs);
}

/**
 * The task's events in the order they were appended (at most TASK_LOG_LIMIT). An event whose
 * number is taken but not yet written (an append in flight on another node) is left out.
 */
export async function readTaskLog(store: Store, taskId: string): Promise<LoggedEvent[]> {
  const count = Math.min((await store.get<number>(countKey(taskId))) ?? 0, TASK_LOG_LIMIT);
  if (count === 0) return [];
  const keys = Array.from({ length: count }, (_, i) => entryKey(taskId, i + 1));
  const events = await store.getMany<LoggedEvent>(keys);
  return events.filter((e): e is LoggedEvent => e !== undefined);
}
