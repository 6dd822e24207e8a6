/**
 * Opens a task (design §2, §3.5 `start_task`): a purpose, a scope ceiling (scopes, or a policy
 * template), a deadline and a token budget, for one user and the agent that opens it. Every
 * token issued in the task's tree stays under them.
 *
 * @module exchange/operations/start-task
 */

import type { ApprovalRecord } from "../../approvals/approval-store.js";
import { invalidRequest } from "../../errors.js";
import { type CoveredAgent, coveredAgents } from "../../policy/delegation-reach.js";
import type { Agent, Policy, TaskTemplate } from "../../policy/types.js";
import { newTaskId, readTask, saveTask, type TaskRecord } from "../../tasks/task-store.js";
import { acceptSubject, type PresentedTokens, requireDelegated } from "../steps/accept-subject.js";
import { approversFor, openApproval } from "../steps/approval.js";
import { narrowScopes } from "../steps/narrow.js";
import { pinPolicy } from "../steps/prepare-policy.js";
import { chargeAgentRate, chargeSubjectRate } from "../steps/rate-limit.js";
import { appendToTaskLog } from "../steps/task-tree-events.js";
import { type TaskView, taskView } from "../steps/task-view.js";
import type { Subject } from "../steps/verify-subject.js";
import type { Caller, ExchangeDeps } from "../types.js";

export interface StartTaskRequest extends PresentedTokens {
  readonly purpose: string;
  /** The ceiling, or… */
  readonly scopes?: readonly string[];
  /** …a policy task template that names it. */
  readonly template?: string;
  readonly ttlSeconds?: number;
  readonly maxTokens?: number;
}

export async function startTask(
  current: ExchangeDeps,
  caller: Caller,
  request: StartTaskRequest,
): Promise<TaskView> {
  const deps = pinPolicy(current);
  const now = deps.clock.now();
  const { policy } = deps.active();
  // The same counters as token exchanges: opening tasks is no way around the limits.
  await chargeAgentRate(deps, caller.agentId, now);
  const accepted = await acceptSubject(deps, caller, request, now);
  requireDelegated(accepted);
  const { agent, subject } = accepted;
  await chargeSubjectRate(deps, subject.sub, now);
  if (subject.txn !== undefined)
    throw invalidRequest("A task cannot be opened inside another task", "task.nested");
  if ((request.scopes === undefined) === (request.template === undefined)) {
    throw invalidRequest("Give either scopes or a template for the ceiling", "task.ceiling_source");
  }
  const template = request.template === undefined ? undefined : policy.tasks.get(request.template);
  if (request.template !== undefined && !template) {
    throw invalidRequest("The task template is not known", "task.template", {
      templates: [...policy.tasks.keys()],
    });
  }
  const plan = planTask(policy, { agent, subject, template, request }, now);
  const task: TaskRecord = {
    id: newTaskId(),
    purpose: request.purpose,
    agent: agent.id,
    subject: subject.sub,
    ceiling: plan.ceiling,
    deadline: plan.deadline,
    maxTokens: plan.maxTokens,
    ...(template ? { template: template.id } : {}),
    // Rule 6: whom the task's one approval covers, held to it for the task's life (enter-task.ts).
    ...(plan.covers.length > 0 ? { covers: plan.covers } : {}),
    createdAt: now,
  };
  const approval = await openTaskApproval(deps, { task, plan, subject, request }, now);
  if (approval?.taskId !== undefined && approval.taskId !== task.id) {
    // The same request still waits for its human: the task it opened, not a second one
    // (unless that one was ended meanwhile: then this one opens, under the same approval).
    const opened = await readTask(deps.store, approval.taskId);
    if (opened && opened.endedAt === undefined) return taskView(deps, opened, now);
  }
  const saved: TaskRecord = approval ? { ...task, approvalId: approval.id } : task;
  await saveTask(deps.store, saved, now);
  const started = {
    type: "task.started" as const,
    task: task.id,
    agent: agent.id,
    subject: subject.sub,
    ceiling: plan.ceiling,
    deadline: task.deadline,
    max_tokens: task.maxTokens,
    purpose: task.purpose,
    ...(template ? { template: template.id } : {}),
  };
  deps.audit.record(started);
  await Promise.all([deps.audit.written(), appendToTaskLog(deps, task.id, task.deadline, started)]);
  const view = await taskView(deps, saved, now);
  const capped = request.ttlSeconds !== undefined && task.deadline - now < request.ttlSeconds;
  return capped ? { ...view, ttl_capped: true } : view;
}

/** Rule 6: a ceiling that needs a human waits for one, once, when the task opens. */
function openTaskApproval(
  deps: ExchangeDeps,
  opening: {
    readonly task: TaskRecord;
    readonly plan: TaskPlan;
    readonly subject: Subject;
    readonly request: StartTaskRequest;
  },
  now: number,
): Promise<ApprovalRecord | undefined> {
  const { task, plan, subject } = opening;
  if (plan.approvers.length === 0) return Promise.resolve(undefined);
  return openApproval(
    deps,
    {
      grant: {
        kind: "task",
        subject: subject.sub,
        client: task.agent,
        chain: [task.agent, ...subject.chain],
        target: task.template ?? "ceiling",
        scopes: plan.ceiling,
        ttl: opening.request.ttlSeconds ?? null,
        task: null,
        // The approver is shown, and approves, every agent the approval covers.
        covers: plan.covers,
      },
      approvers: plan.approvers,
      agent: task.agent,
      reason: task.purpose,
      taskId: task.id,
    },
    now,
  );
}

/** What a task will be, decided in full before anything is written. */
export interface TaskPlan {
  readonly ceiling: readonly string[];
  /** Epoch seconds. */
  readonly deadline: number;
  readonly maxTokens: number;
  /** Who must approve the ceiling when it opens (sorted); empty when no one. */
  readonly approvers: readonly string[];
  /**
   * When it needs approval, whom that one approval covers: the opener and every agent a
   * delegation can reach with an elevated scope of the ceiling (policy/delegation-reach.ts),
   * each with those scopes. Empty when no approval is needed.
   */
  readonly covers: readonly CoveredAgent[];
}

/**
 * The ceiling, deadline, budget and approvers of a task, as pure functions of the policy, the
 * opener, its user and what was asked. Exported for `baton policy explain`
 * (exchange/explain-grant.ts): one decision, never two.
 */
export function planTask(
  policy: Policy,
  input: {
    readonly agent: Agent;
    readonly subject: Subject;
    readonly template: TaskTemplate | undefined;
    readonly request: Pick<StartTaskRequest, "scopes" | "ttlSeconds" | "maxTokens">;
  },
  now: number,
): TaskPlan {
  const { agent, subject, template, request } = input;
  const { broker } = policy;
  // The ceiling obeys rule 1 like any grant: inside the agent's scopes and the subject's.
  const ceiling = narrowScopes(policy, template?.ceiling ?? request.scopes, { agent, subject });
  const longest = Math.min(template?.maxTtl ?? broker.maxTaskTtl, broker.maxTaskTtl);
  // Rule 6: a template that asks for it, or an elevated scope in the ceiling, waits for a
  // human once: the standing approval then covers the grants of the agents it names.
  const approvers = [
    ...new Set([
      ...(template?.approval ? [template.approval] : []),
      ...approversFor(policy, ceiling),
    ]),
  ].sort();
  return {
    ceiling,
    deadline: Math.min(
      now + Math.min(request.ttlSeconds ?? template?.maxTtl ?? broker.maxTtl, longest),
      subject.exp,
    ),
    maxTokens: Math.min(
      request.maxTokens ?? template?.maxTokens ?? broker.maxTaskTokens,
      template?.maxTokens ?? broker.maxTaskTokens,
      broker.maxTaskTokens,
    ),
    approvers,
    covers:
      approvers.length > 0 ? coveredAgents(policy, [agent.id, ...subject.chain], ceiling) : [],
  };
}
