/**
 * How a task is shown to its agents (`start_task`, `whoami`, `POST /tasks`): its ceiling,
 * deadline, budget and what is left of it.
 *
 * @module exchange/steps/task-view
 */

import { readApproval, stateOf } from "../../approvals/approval-store.js";
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
}

export async function taskView(
  deps: ExchangeDeps,
  given: TaskRecord,
  now: number,
): Promise<TaskView> {
  const task = await withApproval(deps, given, now);
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

/** A task whose approval was granted since it was last entered shows as active already. */
async function withApproval(
  deps: ExchangeDeps,
  task: TaskRecord,
  now: number,
): Promise<TaskRecord> {
  if (task.approvalId === undefined || task.approved === true) return task;
  const record = await readApproval(deps.store, task.approvalId);
  return record && stateOf(record, now) === "approved" ? { ...task, approved: true } : task;
}
