/**
 * What an agent may do for its subject right now: the APIs and scopes it may ask for (which
 * are elevated, the longest lifetime), whom it may delegate to, and the chain its next token
 * would carry. Behind the `list_apis` and `whoami` tools and `POST /whoami`.
 *
 * @module exchange/operations/describe
 */

import type { Api, Policy } from "../../policy/types.js";
import { acceptSubject } from "../steps/accept-subject.js";
import { findTask } from "../steps/enter-task.js";
import { type TaskView, taskView } from "../steps/task-view.js";
import type { Caller, ExchangeDeps } from "../types.js";

export interface ScopeView {
  readonly name: string;
  readonly description: string;
  /** True when a human must approve it (rule 6). */
  readonly elevated: boolean;
}

export interface ApiView {
  readonly id: string;
  readonly resource: string;
  readonly description: string;
  /** The longest lifetime a token for it can have now, in seconds. */
  readonly max_ttl_seconds: number;
  readonly scopes: readonly ScopeView[];
}

export interface SessionView {
  readonly agent: string;
  readonly subject: string;
  /** The `act` chain of the next token, current actor (this agent) first. */
  readonly chain: readonly string[];
  /** When the session's authority ends (epoch seconds): the subject token's `exp`, or the task deadline if sooner. */
  readonly subject_expires_at: number;
  readonly apis: readonly ApiView[];
  readonly may_delegate_to: readonly string[];
  /** The version of the policy in force (issue 9): what this view was computed under. */
  readonly policy_version: string;
  /** The task the session works in, when its subject token carries one or one is named. */
  readonly task?: TaskView;
}

export async function describeSession(
  deps: ExchangeDeps,
  caller: Caller,
  subjectToken: string,
  subjectTokenType: string,
  taskId?: string,
): Promise<SessionView> {
  const now = deps.clock.now();
  const { policy } = deps.active();
  const accepted = await acceptSubject(deps, caller, { subjectToken, subjectTokenType }, now);
  const { agent, subject } = accepted;
  // Shown whatever its state (an ended task says so); only an active one narrows the view.
  const found = (await findTask(deps, accepted, taskId))?.task;
  const view = found ? await taskView(deps, found, now) : undefined;
  const task = view?.status === "active" ? found : undefined;
  const usable = (scope: string) =>
    agent.scopes.has(scope) &&
    (!subject.scopes || subject.scopes.has(scope)) &&
    (!task || task.ceiling.includes(scope));
  const until = Math.min(subject.exp, task?.deadline ?? Number.POSITIVE_INFINITY);
  return {
    agent: agent.id,
    subject: subject.sub,
    chain: [agent.id, ...subject.chain],
    subject_expires_at: until,
    apis: [...policy.apis.values()]
      .map((api) => apiView(policy, api, usable, until, now))
      .filter((view) => view.scopes.length > 0),
    may_delegate_to: [...agent.delegateTo].filter((id) => policy.agents.has(id)),
    policy_version: policy.version,
    ...(view ? { task: view } : {}),
  };
}

function apiView(
  policy: Policy,
  api: Api,
  usable: (scope: string) => boolean,
  until: number,
  now: number,
): ApiView {
  return {
    id: api.id,
    resource: api.resource,
    description: api.description,
    max_ttl_seconds: Math.max(
      0,
      Math.min(api.maxTtl ?? policy.broker.maxTtl, policy.broker.maxTtl, until - now),
    ),
    scopes: [...api.scopes.values()]
      .filter((scope) => usable(scope.name))
      .map((scope) => ({
        name: scope.name,
        description: scope.description,
        elevated: scope.approval !== undefined,
      })),
  };
}
