/**
 * Task state in the store: the record (purpose, ceiling, deadline, budget, who opened it) and
 * the budget counter, shared by every process on the store, so sub-agents anywhere stay under
 * the same ceiling and budget (design §2, §4 rules 1, 2, 7).
 *
 * @module tasks/task-store
 */

import { randomBytes } from "node:crypto";
import type { CoveredAgent } from "../policy/delegation-reach.js";
import type { Store } from "../store/store.js";

export interface TaskRecord {
  readonly id: string;
  readonly purpose: string;
  /** The agent that opened the task: only it can enter or end it. */
  readonly agent: string;
  /** The user the task works for: every token in it carries this `sub`. */
  readonly subject: string;
  /** The scope ceiling of every token in the task's tree. */
  readonly ceiling: readonly string[];
  /** Epoch seconds: nothing in the task outlives it. */
  readonly deadline: number;
  /** Most tokens the whole tree may be issued. */
  readonly maxTokens: number;
  readonly template?: string;
  readonly createdAt: number;
  /** Epoch seconds when it was ended, if it was. */
  readonly endedAt?: number;
  /** The approval its ceiling waits for (rule 6), when it needs one. */
  readonly approvalId?: string;
  /** A standing approval: once its ceiling is approved, its grants need no more approvals… */
  readonly approved?: boolean;
  /**
   * …for the agents and elevated scopes its approval names (rule 6), as the approver saw them.
   * Absent on a task that needs no approval, and on one opened before approvals named them (its
   * approval named only the opener: exchange/steps/enter-task.ts `coveredByTask`).
   */
  readonly covers?: readonly CoveredAgent[];
}

const recordKey = (id: string) => `task:${id}`;
const budgetKey = (id: string) => `budget:${id}`;

/** The lineage id of a task: every token issued in it descends from it (rule 7). */
export const taskLineageId = (id: string) => `task:${id}`;

/** A fresh task id: 128 random bits. */
export function newTaskId(): string {
  return `tsk_${randomBytes(16).toString("base64url")}`;
}

/** Records kept a minute past the deadline, so clock skew between nodes cannot revive one. */
const keepMs = (deadline: number, now: number) => (Math.max(deadline - now, 0) + 60) * 1000;

export function saveTask(store: Store, task: TaskRecord, now: number): Promise<void> {
  return store.set(recordKey(task.id), task, keepMs(task.deadline, now));
}

export function readTask(store: Store, id: string): Promise<TaskRecord | undefined> {
  return store.get<TaskRecord>(recordKey(id));
}

/**
 * Counts one more token against the task's budget, atomically across every process, and says
 * whether it still fits: of N concurrent requests against a budget of B, exactly min(N, B) fit.
 */
export async function spendBudget(store: Store, task: TaskRecord, now: number): Promise<boolean> {
  const count = await store.increment(budgetKey(task.id), keepMs(task.deadline, now));
  return count <= task.maxTokens;
}

/** Tokens issued so far (attempts past the budget included, which is why it is capped). */
export async function tokensUsed(store: Store, task: TaskRecord): Promise<number> {
  return Math.min((await store.get<number>(budgetKey(task.id))) ?? 0, task.maxTokens);
}
