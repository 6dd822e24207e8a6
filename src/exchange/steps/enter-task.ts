/**
 * The task an exchange happens in (design §2): named by the subject token's `txn` (a token
 * already inside the task) or by the request's `task_id` (the agent that opened the task,
 * entering it with its user's token). The task must be active, and the caller's to enter.
 *
 * @module exchange/steps/enter-task
 */

import { invalidRequest } from "../../errors.js";
import type { Policy } from "../../policy/types.js";
import {
  readTask,
  saveTask,
  spendBudget,
  type TaskRecord,
  taskLineageId,
} from "../../tasks/task-store.js";
import type { ExchangeDeps } from "../types.js";
import type { AcceptedSubject } from "./accept-subject.js";
import { requireApproved } from "./approval.js";
import { anyRevoked } from "./lineage.js";
import { awaitedApproval } from "./task-view.js";

export interface TaskScope {
  readonly task: TaskRecord;
  /** The lineage the next token inherits: the task's id joins it when the task is entered. */
  readonly lineage: readonly string[];
}

/**
 * The task a request names, if any, and whether the caller may see it: the subject token's own
 * task, or one the caller opened for the same user. Whatever its state.
 */
export async function findTask(
  deps: ExchangeDeps,
  accepted: AcceptedSubject,
  requestedTaskId: string | undefined,
): Promise<{ task: TaskRecord; entering: boolean } | undefined> {
  const { subject, agent } = accepted;
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
  // Entering from outside: only the agent that opened the task, for the task's own user.
  const entering = subject.txn === undefined;
  if (entering && task.agent !== agent.id)
    throw invalidRequest("The task is not known", "task.not_opener");
  return { task, entering };
}

/** The task an exchange happens in, checked active: not ended, before its deadline, approved. */
export async function resolveTask(
  deps: ExchangeDeps,
  accepted: AcceptedSubject,
  requestedTaskId: string | undefined,
  now: number,
): Promise<TaskScope | undefined> {
  const found = await findTask(deps, accepted, requestedTaskId);
  if (!found) return undefined;
  const { task, entering } = found;
  if (task.endedAt !== undefined) throw invalidRequest("The task has ended", "task.ended");
  if (now >= task.deadline)
    throw invalidRequest("The task has passed its deadline", "task.deadline");
  // end_task marks the task revoked before it updates the record: trust the mark.
  if (entering && (await anyRevoked(deps.store, [taskLineageId(task.id)]))) {
    throw invalidRequest("The task has ended", "task.ended");
  }
  const active = await standingApproval(deps, task, now);
  return {
    task: active,
    lineage: entering ? [...accepted.lineage, taskLineageId(task.id)] : accepted.lineage,
  };
}

/**
 * A task whose ceiling waits for a human cannot be worked in until approved; once approved,
 * the task is marked so (a standing approval, not consumed: it covers the task until it ends).
 */
async function standingApproval(
  deps: ExchangeDeps,
  task: TaskRecord,
  now: number,
): Promise<TaskRecord> {
  const record = await awaitedApproval(deps, task);
  if (record === undefined) return task;
  if (record === null) throw invalidRequest("The task is not known", "task.approval_missing");
  requireApproved(deps, record, now);
  const approved = { ...task, approved: true };
  await saveTask(deps.store, approved, now);
  return approved;
}

/**
 * Rule 6 inside an approved task: does its standing approval cover `agent` getting `scopes`?
 * Only for the agents and elevated scopes the approval named (`TaskRecord.covers`): the
 * outermost actor (RFC 8693 §4.1: only it counts for access decisions) must be named with every
 * elevated scope of the grant. Anything else, such as an agent a hot reload made reachable
 * since, or a scope made elevated since, asks for its own approval, as outside a task. A task
 * opened before approvals named whom they cover was approved as its opener's alone. Pure.
 */
export function coveredByTask(
  policy: Policy,
  task: TaskRecord,
  agent: string,
  scopes: readonly string[],
): boolean {
  if (task.approved !== true) return false;
  const covers = task.covers ?? [{ agent: task.agent, scopes: task.ceiling, delegated: false }];
  const named = covers.find((c) => c.agent === agent)?.scopes ?? [];
  return scopes
    .filter((s) => policy.scopes.get(s)?.approval !== undefined)
    .every((s) => named.includes(s));
}

/** Budget (design §2): counted atomically across every process; past it, nothing is issued. */
export async function chargeTask(
  deps: ExchangeDeps,
  scope: TaskScope | undefined,
  now: number,
): Promise<void> {
  if (scope && !(await spendBudget(deps.store, scope.task, now))) {
    throw invalidRequest("The task has used its whole token budget", "task.budget");
  }
}
