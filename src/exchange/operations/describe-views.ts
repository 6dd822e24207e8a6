/**
 * The parts of the discovery answer (`describeSession`), each a pure function of the policy,
 * the session and the clock: the APIs it may ask for, the task templates it may open, the
 * sub-agents it may delegate to and the defaults. Each mirrors the decision it previews (rules
 * 1 and 2, `planTask`), so what the answer offers is what a request would be granted.
 *
 * @module exchange/operations/describe-views
 */

import { BatonError } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import type { TaskRecord } from "../../tasks/task-store.js";
import { ID_JAG_TTL } from "../steps/id-jag-target.js";
import type { Subject } from "../steps/verify-subject.js";
import { planTask } from "./start-task.js";

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
  /** The lifetime a request without `ttl_seconds` gets now, in seconds. */
  readonly default_ttl_seconds: number;
  /** What a request without scopes gets, when the session may hold all of it. */
  readonly default_scopes: readonly string[];
  readonly scopes: readonly ScopeView[];
  /**
   * An API behind its own authorization server (this is its issuer): a request for it gets an
   * ID-JAG to redeem there, never an access token (design §3.4).
   */
  readonly authorization_server?: string;
}

/** A task template this session may open with `start_task`, as it would open now. */
export interface TemplateView {
  readonly id: string;
  readonly description: string;
  readonly ceiling: readonly string[];
  /** The longest the task would run, in seconds. */
  readonly max_ttl_seconds: number;
  readonly max_tokens: number;
  /** True when a human must approve the ceiling before the task is usable (rule 6). */
  readonly approval: boolean;
}

/** A sub-agent this session may delegate to, and what a delegation to it may carry. */
export interface DelegateView {
  readonly agent: string;
  readonly description: string;
  /** The delegator's ∩ the sub-agent's ∩ the subject token's ∩ the task ceiling (rule 1). */
  readonly scopes: readonly string[];
}

export interface DefaultsView {
  /** A token's lifetime when a request names none. */
  readonly token_ttl_seconds: number;
  /** A task's lifetime when `start_task` names none and no template sets it. */
  readonly task_ttl_seconds: number;
  /** A task's token budget when `start_task` names none and no template sets it. */
  readonly task_max_tokens: number;
}

/** The session as the describe views need it. */
export interface Viewer {
  readonly policy: Policy;
  readonly agent: Agent;
  readonly subject: Subject;
  readonly delegators: readonly Agent[];
  /** The active task the session is in, if any: its ceiling bounds everything offered. */
  readonly task: TaskRecord | undefined;
  /** When the session's authority ends (epoch seconds). */
  readonly until: number;
  readonly now: number;
}

/** Rule 1: a scope this session may carry now, whoever the target. */
export function usable(viewer: Viewer, scope: string): boolean {
  const { agent, subject, task, delegators } = viewer;
  return (
    agent.scopes.has(scope) &&
    (!subject.scopes || subject.scopes.has(scope)) &&
    (!task || task.ceiling.includes(scope)) &&
    // Issue 14: a delegator that has since lost a scope can no longer have passed it on.
    delegators.every((d) => d.scopes.has(scope))
  );
}

export function apiViews(viewer: Viewer): ApiView[] {
  return (
    [...viewer.policy.apis.values()]
      // An outside server's API only for an agent with a client there (id-jag-target.ts).
      .filter((api) => api.clientIds === undefined || api.clientIds.has(viewer.agent.id))
      .map((api) => apiView(viewer, api))
      .filter((view) => view.scopes.length > 0)
  );
}

function apiView(viewer: Viewer, api: Api): ApiView {
  const { broker } = viewer.policy;
  // Rule 2, as narrowExpiry applies it, from now.
  const longest = Math.max(
    0,
    Math.min(api.maxTtl ?? broker.maxTtl, broker.maxTtl, viewer.until - viewer.now),
  );
  const scopes = [...api.scopes.values()].filter((scope) => usable(viewer, scope.name));
  const defaults = api.defaultScopes.every((scope) => usable(viewer, scope))
    ? api.defaultScopes
    : [];
  return {
    id: api.id,
    resource: api.resource,
    description: api.description,
    max_ttl_seconds: longest,
    // An ID-JAG's own default (exchange.ts planIdJag), else the broker's.
    default_ttl_seconds: Math.min(
      api.authorizationServer === undefined ? broker.defaultTtl : ID_JAG_TTL,
      longest,
    ),
    default_scopes: [...defaults],
    scopes: scopes.map((scope) => ({
      name: scope.name,
      description: scope.description,
      elevated: scope.approval !== undefined,
    })),
    ...(api.authorizationServer === undefined
      ? {}
      : { authorization_server: api.authorizationServer }),
  };
}

/**
 * The templates `start_task` would accept now, replayed through `planTask` itself (one
 * decision, never two): none inside a task (tasks do not nest), none whose ceiling the
 * session may not hold in full.
 */
export function templateViews(viewer: Viewer): TemplateView[] {
  const { policy, agent, subject, now } = viewer;
  if (subject.txn !== undefined || viewer.task !== undefined) return [];
  const views: TemplateView[] = [];
  for (const template of policy.tasks.values()) {
    try {
      const plan = planTask(policy, { agent, subject, template, request: {} }, now);
      views.push({
        id: template.id,
        description: template.description,
        ceiling: [...plan.ceiling],
        max_ttl_seconds: Math.max(0, plan.deadline - now),
        max_tokens: plan.maxTokens,
        approval: plan.approvers.length > 0,
      });
    } catch (err) {
      // Refused for this session (a ceiling scope it may not hold): not offered.
      if (!(err instanceof BatonError)) throw err;
    }
  }
  return views;
}

/**
 * The sub-agents a delegation could go to now (rules 4 and 5): along a policy edge, enabled,
 * not already in the chain, within `max_depth`, and with at least one scope to receive.
 */
export function delegateViews(viewer: Viewer): DelegateView[] {
  const { policy, agent, subject } = viewer;
  // The chain the sub-agent's next token would carry: itself, this agent, the prior actors.
  const depth = subject.chain.length + 2;
  const views: DelegateView[] = [];
  for (const id of agent.delegateTo) {
    const sub = policy.agents.get(id);
    if (!sub || sub.disabled || id === agent.id || subject.chain.includes(id)) continue;
    if (depth > policy.broker.maxDepth) continue;
    const scopes = [...policy.scopes.keys()].filter(
      (scope) => sub.scopes.has(scope) && usable(viewer, scope),
    );
    if (scopes.length > 0) views.push({ agent: id, description: sub.description, scopes });
  }
  return views;
}

export function defaultsView(policy: Policy): DefaultsView {
  const { broker } = policy;
  return {
    token_ttl_seconds: broker.defaultTtl,
    // planTask: without ttl_seconds or a template, a task runs the broker's max_ttl, capped.
    task_ttl_seconds: Math.min(broker.maxTtl, broker.maxTaskTtl),
    task_max_tokens: broker.maxTaskTokens,
  };
}
