/**
 * The task an exchange happens in (design §2): named by the subject token's `txn` (a token
 * already inside the task) or by the request's `task_id` (the agent that opened the task,
 * entering it with its user's token). The task must be active, and the caller's to enter.
 *
 * @module exchange/task-scope
 */

import { BatonError, invalidRequest } from "../errors.js";
import { readTask, spendBudget, type TaskRecord, taskLineageId } from "../tasks/task-store.js";
import type { AcceptedSubject } from "./accept-subject.js";
import { anyRevoked } from "./lineage.js";
import type { ExchangeDeps } from "./types.js";

export interface TaskScope {
  readonly task: TaskRecord;
  /** The lineage the next token inherits: the task's id joins it when the task is entered. */
  readonly lineage: readonly string[];
}

export async function resolveTask(
  deps: ExchangeDeps,
  accepted: AcceptedSubject,
  requestedTaskId: string | undefined,
  now: number,
): Promise<TaskScope | undefined> {
  const { subject, agent, lineage } = accepted;
  if (
    subject.txn !== undefined &&
    requestedTaskId !== undefined &&
    requestedTaskId !== subject.txn
  ) {
    throw invalidRequest("The subject token belongs to another task", "task.mismatch");
  }
  const id = subject.txn ?? requestedTaskId;
  if (id === undefined) return undefined;

  const task = await readTask(deps.store, id);
  if (!task || task.subject !== subject.sub)
    throw invalidRequest("The task is not known", "task.unknown");
  if (task.endedAt !== undefined) throw invalidRequest("The task has ended", "task.ended");
  if (now >= task.deadline)
    throw invalidRequest("The task has passed its deadline", "task.deadline");
  if (subject.txn !== undefined) return { task, lineage };

  // Entering from outside: only the agent that opened the task, for the task's own user.
  if (task.agent !== agent.id) throw invalidRequest("The task is not known", "task.not_opener");
  // end_task marks the task revoked before it updates the record: trust the mark.
  if (await anyRevoked(deps.store, [taskLineageId(task.id)])) {
    throw invalidRequest("The task has ended", "task.ended");
  }
  return { task, lineage: [...lineage, taskLineageId(task.id)] };
}

/** Budget (design §2): counted atomically across every process; past it, nothing is issued. */
export async function chargeTask(
  deps: ExchangeDeps,
  scope: TaskScope | undefined,
  now: number,
): Promise<void> {
  if (scope && !(await spendBudget(deps.store, scope.task, now))) {
    throw new BatonError(
      "invalid_request",
      400,
      "The task has used its whole token budget",
      "task.budget",
    );
  }
}
