/**
 * The replay behind `baton policy explain` (explain-grant.ts): the steps of the module comment
 * there, each calling the broker's own planner (`planTask`, `planDelegation`, `planAccess` or
 * `planIdJag`, `extendChain`) and recording what it decided on as a finding.
 *
 * @module exchange/operations/explain-replay
 */

import { unauthorizedClient } from "../../errors.js";
import type { Agent, Api, Policy, TaskTemplate } from "../../policy/types.js";
import type { TaskRecord } from "../../tasks/task-store.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { requireDelegated } from "../steps/accept-subject.js";
import { coveredByTask } from "../steps/enter-task.js";
import { naming } from "../steps/id-jag-target.js";
import { extendChain } from "../steps/narrow.js";
import type { Subject } from "../steps/verify-subject.js";
import type { TokenExchangeRequest } from "../types.js";
import { type Grant, planAccess, planDelegation, planIdJag } from "./exchange.js";
import type { Finding } from "./explain-findings.js";
import { planTask } from "./start-task.js";

/** Time zero: lifetimes come out in seconds. */
export const NOW = 0;
const USER = "subject";

export interface Input {
  readonly agent: Agent;
  readonly api: Api;
  readonly scopes: readonly string[];
  /** Delegation order. */
  readonly via: readonly Agent[];
  readonly template?: TaskTemplate;
}

/** A request as the door would parse it; tokens are not needed by the pure planners. */
export function request(scopes: readonly string[], ttlSeconds?: number): TokenExchangeRequest {
  return {
    subjectToken: "",
    subjectTokenType: TOKEN_TYPE.jwt,
    requestedTokenType: TOKEN_TYPE.accessToken,
    resources: [],
    audiences: [],
    scopes,
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
  };
}

interface Outcome {
  readonly grant: Grant;
  readonly task?: TaskRecord;
  readonly taskApprovers: readonly string[];
}

/** Steps 1 to 3 of explain-grant.ts's module comment; throws the first refusal. */
export function replay(
  policy: Policy,
  input: Input,
  ttlSeconds: number | undefined,
  findings: Finding[],
): Outcome {
  const user: Subject = { source: "issuer", sub: USER, chain: [], exp: Number.POSITIVE_INFINITY };
  const opener = input.via[0] ?? input.agent;
  // The first agent acts on the user's own token (accept-subject.ts): enabled, and not one
  // that acts only on a delegation (policy delegated_only).
  requireEnabled(opener, findings);
  requireDelegated({ agent: opener, subject: user });
  const opened = input.template
    ? openTask(policy, input.template, opener, user, findings)
    : undefined;
  const task = opened?.task;
  let subject = user;
  const agents = [...input.via, input.agent];
  for (let i = 0; i + 1 < agents.length; i++) {
    subject = delegate(policy, input, agents[i] as Agent, agents[i + 1] as Agent, {
      subject,
      task,
      ttlSeconds,
      findings,
    });
  }
  requireEnabled(input.agent, findings);
  findings.push({ check: "api", ok: true, api: input.api.id, resource: input.api.resource });
  findings.push(...input.scopes.map((s) => scopeFinding(policy, input, s, task)));
  // exchange.ts planAccess: impersonation (no `act`) only on a user's own token.
  const impersonates = input.agent.impersonate && subject.chain.length === 0;
  const chain = chainFinding(policy, input.agent, subject, false);
  findings.push({ ...chain, ok: impersonates || chain.fits });
  const grant = (input.api.authorizationServer === undefined ? planAccess : planIdJag)(
    policy,
    { ...request(input.scopes, ttlSeconds), ...naming(input.api) },
    input.agent,
    subject,
    task,
    NOW,
  );
  findings[findings.length - 1] = {
    ...chainFinding(policy, input.agent, subject, grant.chain.length === 0),
    ok: true,
  };
  return { grant, ...(task ? { task } : {}), taskApprovers: opened?.approvers ?? [] };
}

interface Along {
  readonly subject: Subject;
  readonly task: TaskRecord | undefined;
  readonly ttlSeconds: number | undefined;
  readonly findings: Finding[];
}

/** Step 2: `from` delegates to `to` (exchange.ts planDelegation); the subject `to` then holds. */
function delegate(policy: Policy, input: Input, from: Agent, to: Agent, along: Along): Subject {
  const { subject, task, findings } = along;
  requireEnabled(from, findings);
  const chain = [to.id, from.id, ...subject.chain];
  const lacking = (agent: Agent) => input.scopes.filter((s) => !agent.scopes.has(s));
  const step: Finding = {
    check: "delegation",
    ok: false,
    from: from.id,
    to: to.id,
    edge: from.delegateTo.has(to.id),
    scopes: input.scopes,
    fromLacks: lacking(from),
    toLacks: lacking(to),
    chain,
    maxDepth: policy.broker.maxDepth,
    fits: fitsChain(policy, chain),
  };
  findings.push(step);
  const grant = planDelegation(
    policy,
    {
      ...request(input.scopes, along.ttlSeconds),
      requestedTokenType: TOKEN_TYPE.jwt,
      audiences: [to.id],
    },
    from,
    subject,
    task,
    NOW,
  );
  findings[findings.length - 1] = { ...step, ok: true };
  // What exchange/steps/verify-subject.ts reads back from the delegation token.
  return {
    source: "delegation",
    sub: subject.sub,
    chain: grant.chain,
    scopes: new Set(grant.scopes),
    exp: grant.exp,
    mayAct: to.id,
    ...(task ? { txn: task.id } : {}),
  };
}

/** exchange/steps/accept-subject.ts: a disabled agent authenticates but may not exchange. */
function requireEnabled(agent: Agent, findings: Finding[]): void {
  // Checked on every exchange; said once (the opener of a task delegates next).
  if (!findings.some((f) => f.check === "agent" && f.agent === agent.id)) {
    findings.push({
      check: "agent",
      ok: !agent.disabled,
      agent: agent.id,
      disabled: agent.disabled,
    });
  }
  if (agent.disabled) throw unauthorizedClient("client.disabled");
}

interface OpenedTask {
  readonly task: TaskRecord;
  readonly approvers: readonly string[];
}

/** exchange/operations/start-task.ts with a template: the ceiling, the approvers, the deadline. */
function openTask(
  policy: Policy,
  template: TaskTemplate,
  opener: Agent,
  user: Subject,
  findings: Finding[],
): OpenedTask {
  requireEnabled(opener, findings);
  const missing = template.ceiling.filter((s) => !opener.scopes.has(s));
  findings.push({
    check: "task",
    ok: missing.length === 0,
    template: template.id,
    opener: opener.id,
    ceiling: template.ceiling,
    missing,
  });
  // The broker's own plan (start-task.ts), not a copy of it.
  const { ceiling, deadline, maxTokens, approvers, covers } = planTask(
    policy,
    { agent: opener, subject: user, template, request: {} },
    NOW,
  );
  if (approvers.length > 0) {
    findings.push({ check: "approval", ok: true, template: template.id, approvers });
  }
  return {
    task: {
      id: `explain-${template.id}`,
      purpose: template.description,
      agent: opener.id,
      subject: user.sub,
      ceiling,
      deadline,
      maxTokens,
      template: template.id,
      createdAt: NOW,
      // Once approved, a standing approval for the agents it names (exchange/steps/enter-task.ts).
      ...(approvers.length > 0 ? { approvalId: "explain", approved: true, covers } : {}),
    },
    approvers,
  };
}

/** Rule 4 as the broker applies it (narrow.ts `extendChain`): no agent twice, within max_depth. */
function fitsChain(policy: Policy, chain: readonly string[]): boolean {
  const [agent, ...prior] = chain;
  try {
    extendChain(policy, agent as string, prior);
    return true;
  } catch {
    return false;
  }
}

function chainFinding(policy: Policy, agent: Agent, subject: Subject, impersonated: boolean) {
  const chain = [agent.id, ...subject.chain];
  return {
    check: "chain",
    agent: agent.id,
    chain,
    maxDepth: policy.broker.maxDepth,
    fits: fitsChain(policy, chain),
    impersonated,
  } as const;
}

/** One scope against every bound of rule 1, then rule 6. */
function scopeFinding(
  policy: Policy,
  input: Input,
  name: string,
  task: TaskRecord | undefined,
): Finding {
  const scope = policy.scopes.get(name);
  const base = {
    check: "scope",
    scope: name,
    targetApi: input.api.id,
    agent: input.agent.id,
  } as const;
  const inAgent = input.agent.scopes.has(name);
  if (!scope) return { ...base, ok: false, inAgent };
  const ceiling = task
    ? { template: task.template as string, holds: task.ceiling.includes(name) }
    : undefined;
  return {
    ...base,
    ok: scope.api === input.api.id && inAgent && (ceiling?.holds ?? true),
    api: scope.api,
    inAgent,
    ...(ceiling ? { ceiling } : {}),
    ...(scope.approval === undefined
      ? {}
      : {
          approval: {
            by: scope.approval,
            forTask: task !== undefined && coveredByTask(policy, task, input.agent.id, [name]),
          },
        }),
  };
}

export function lifetimeFinding(
  policy: Policy,
  input: Input,
  defaultExp: number,
  longestExp: number,
  task: TaskRecord | undefined,
): Finding {
  const { broker } = policy;
  return {
    check: "lifetime",
    ok: true,
    defaultTtl: defaultExp - NOW,
    longestTtl: longestExp - NOW,
    brokerDefaultTtl: broker.defaultTtl,
    brokerMaxTtl: broker.maxTtl,
    api: input.api.id,
    ...(input.api.maxTtl === undefined ? {} : { apiMaxTtl: input.api.maxTtl }),
    ...(task ? { task: { template: task.template as string, deadline: task.deadline - NOW } } : {}),
    delegated: input.via.length > 0,
  };
}
