/**
 * How a task is shown to its agents (`start_task`, `whoami`, `POST /tasks`): its ceiling,
 * deadline, budget and what is left of it.
 *
 * @module exchange/steps/task-view
 */

import { type ApprovalRecord, readApproval, stateOf } from "../../approvals/approval-store.js";
import { type TaskRecord, tokensUsed } from "../../tasks/task-store.js";
import { approvalUri } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";

export interface TaskView {
  readonly task_id: string;
  readonly purpose: string;
  readonly ceiling: readonly string[];
  /** Epoch seconds. */
  readonly expires_at: number;
  readonly max_tokens: number;
  readonly tokens_left: number;
  readonly status: "active" | "approval_required" | "ended" | "expired";
  /** While the ceiling waits for a human: the approval, and where it is decided. */
  readonly approval_id?: string;
  readonly approval_uri?: string;
  /** In start_task's answer only: the ttl asked for was cut to a cap (rule 2), so it says so. */
  readonly ttl_capped?: true;
}

export async function taskView(
  deps: ExchangeDeps,
  given: TaskRecord,
  now: number,
): Promise<TaskView> {
  // A task whose approval was granted since it was last entered shows as active already.
  const record = await awaitedApproval(deps, given);
  const task = record && stateOf(record, now) === "approved" ? { ...given, approved: true } : given;
  return {
    task_id: task.id,
    purpose: task.purpose,
    ceiling: task.ceiling,
    expires_at: task.deadline,
    max_tokens: task.maxTokens,
    tokens_left: task.maxTokens - (await tokensUsed(deps.store, task)),
    status: statusOf(task, now),
    ...(task.approvalId !== undefined && task.approved !== true
      ? { approval_id: task.approvalId, approval_uri: approvalUri(deps.issuer, task.approvalId) }
      : {}),
  };
}

function statusOf(task: TaskRecord, now: number): TaskView["status"] {
  if (task.endedAt !== undefined) return "ended";
  if (now >= task.deadline) return "expired";
  return task.approvalId !== undefined && task.approved !== true ? "approval_required" : "active";
}

/**
 * The approval the task's ceiling waits for, read fresh (it may have been decided since the
 * task was last entered): `undefined` when the task needs none or is approved already (a
 * standing approval), `null` when its record is gone.
 */
export async function awaitedApproval(
  deps: ExchangeDeps,
  task: TaskRecord,
): Promise<ApprovalRecord | null | undefined> {
  if (task.approvalId === undefined || task.approved === true) return undefined;
  return (await readApproval(deps.store, task.approvalId)) ?? null;
}
