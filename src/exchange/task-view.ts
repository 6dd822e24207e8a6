/**
 * How a task is shown to its agents (`start_task`, `whoami`, `POST /tasks`): its ceiling,
 * deadline, budget and what is left of it.
 *
 * @module exchange/task-view
 */

import { type TaskRecord, tokensUsed } from "../tasks/task-store.js";
import type { ExchangeDeps } from "./types.js";

export interface TaskView {
  readonly task_id: string;
  readonly purpose: string;
  readonly ceiling: readonly string[];
  /** Epoch seconds. */
  readonly expires_at: number;
  readonly max_tokens: number;
  readonly tokens_left: number;
  readonly status: "active" | "ended" | "expired";
}

export async function taskView(
  deps: ExchangeDeps,
  task: TaskRecord,
  now: number,
): Promise<TaskView> {
  return {
    task_id: task.id,
    purpose: task.purpose,
    ceiling: task.ceiling,
    expires_at: task.deadline,
    max_tokens: task.maxTokens,
    tokens_left: task.maxTokens - (await tokensUsed(deps.store, task)),
    status: task.endedAt !== undefined ? "ended" : now >= task.deadline ? "expired" : "active",
  };
}
