/**
 * The one discovery answer (issue 16): what an agent may do for its subject right now, in one
 * call. Who it acts for and through which chain, the delegation it holds and the task it is in,
 * the APIs and scopes it may ask for (which are elevated, the lifetimes, the defaults), the task
 * templates it may open, the sub-agents it may delegate to with what each may receive, and the
 * broker's defaults. Behind the `whoami` and `list_apis` tools and `POST /whoami`.
 *
 * @module exchange/operations/describe
 */

import { acceptSubject } from "../steps/accept-subject.js";
import { findTask } from "../steps/enter-task.js";
import { type TaskView, taskView } from "../steps/task-view.js";
import type { Caller, ExchangeDeps } from "../types.js";
import {
  type ApiView,
  apiViews,
  type DefaultsView,
  type DelegateView,
  defaultsView,
  delegateViews,
  type TemplateView,
  templateViews,
  type Viewer,
} from "./describe-views.js";

export type {
  ApiView,
  DefaultsView,
  DelegateView,
  ScopeView,
  TemplateView,
} from "./describe-views.js";

/** The delegation the subject token is, seen by the sub-agent that holds it. */
export interface DelegationView {
  /** The agent that delegated it to this one. */
  readonly from: string;
  /** The scopes it carries (what the holder may ask for at most). */
  readonly scopes: readonly string[];
  /** Epoch seconds. */
  readonly expires_at: number;
}

export interface SessionView {
  readonly agent: string;
  readonly subject: string;
  readonly apis: readonly ApiView[];
  /** The `act` chain of the next token, current actor (this agent) first. */
  readonly chain: readonly string[];
  /** When the session's authority ends (epoch seconds): the subject token's `exp`, or the task deadline if sooner. */
  readonly subject_expires_at: number;
  /** Every policy edge from this agent; `delegates` says which are usable now, and with what. */
  readonly may_delegate_to: readonly string[];
  readonly delegates: readonly DelegateView[];
  readonly defaults: DefaultsView;
  /** The task templates `start_task` would open now (none inside a task). */
  readonly templates: readonly TemplateView[];
  /** The version of the policy in force (issue 9): what this view was computed under. */
  readonly policy_version: string;
  /**
   * A `delegated_only` agent on its user's own token: it may act only on the delegation token
   * it was handed, so nothing is offered until it shows it (`requireDelegated`).
   */
  readonly delegated_only?: true;
  /** When the subject token is a delegation token handed to this agent. */
  readonly delegation?: DelegationView;
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
  // The same acceptance as an exchange: a token this agent could not exchange shows nothing.
  const accepted = await acceptSubject(deps, caller, { subjectToken, subjectTokenType }, now);
  const { agent, subject, delegators } = accepted;
  // Shown whatever its state (an ended task says so); only an active one narrows the view.
  const found = (await findTask(deps, accepted, taskId))?.task;
  const view = found ? await taskView(deps, found, now) : undefined;
  const task = view?.status === "active" ? found : undefined;
  const until = Math.min(subject.exp, task?.deadline ?? Number.POSITIVE_INFINITY);
  const viewer: Viewer = { policy, agent, subject, delegators, task, until, now };
  // Whoami itself is no act, so it answers; but it offers only what an act would be granted.
  const leashed = agent.delegatedOnly && subject.source !== "delegation";
  return {
    agent: agent.id,
    subject: subject.sub,
    chain: [agent.id, ...subject.chain],
    subject_expires_at: until,
    apis: leashed ? [] : apiViews(viewer),
    may_delegate_to: [...agent.delegateTo].filter((id) => policy.agents.has(id)),
    delegates: leashed ? [] : delegateViews(viewer),
    templates: leashed ? [] : templateViews(viewer),
    defaults: defaultsView(policy),
    policy_version: policy.version,
    ...(leashed ? { delegated_only: true as const } : {}),
    ...(subject.source === "delegation" && subject.chain[0] !== undefined
      ? {
          delegation: {
            from: subject.chain[0],
            scopes: [...(subject.scopes ?? [])],
            expires_at: subject.exp,
          },
        }
      : {}),
    ...(view ? { task: view } : {}),
  };
}
