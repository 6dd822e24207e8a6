/**
 * Ends a task (design §3.5 `end_task`, rule 7): every token issued in its tree, at any depth
 * and in any process, becomes inactive at once, because each one's lineage names the task.
 *
 * @module exchange/operations/end-task
 */

import { invalidRequest } from "../../errors.js";
import { readTask, saveTask, taskLineageId } from "../../tasks/task-store.js";
import { acceptSubject, type PresentedTokens } from "../steps/accept-subject.js";
import { markRevoked } from "../steps/lineage.js";
import { appendToTaskLog } from "../steps/task-tree-events.js";
import type { Caller, ExchangeDeps } from "../types.js";

/** Only the agent that opened the task, acting for the task's user, may end it. */
export async function endTask(
  deps: ExchangeDeps,
  caller: Caller,
  taskId: string,
  presented: PresentedTokens,
): Promise<{ task_id: string; revoked: true }> {
  const now = deps.clock.now();
  const { agent, subject } = await acceptSubject(deps, caller, presented, now);
  const task = await readTask(deps.store, taskId);
  if (!task || task.agent !== agent.id || task.subject !== subject.sub) {
    throw invalidRequest("The task is not known", "task.unknown");
  }
  if (task.endedAt === undefined) {
    await markRevoked(deps.store, taskLineageId(task.id), task.deadline, now);
    await saveTask(deps.store, { ...task, endedAt: now }, now);
    const ended = {
      type: "task.ended" as const,
      task: task.id,
      by: agent.id,
      subject: subject.sub,
    };
    deps.audit.record(ended);
    await appendToTaskLog(deps, task.id, now, ended);
  }
  await deps.audit.written();
  return { task_id: task.id, revoked: true };
}
