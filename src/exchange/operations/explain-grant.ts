/**
 * `baton policy explain`: would the broker issue this grant, and which rules decide? (issue 8)
 *
 * Pure: a compiled policy and a question in, an explanation out. It replays the exchange with
 * the broker's own decision functions (`planDelegation`, `planAccess`, `narrowScopes`,
 * `approversFor`), so an explanation cannot drift from what `POST /token` decides: every
 * refusal is the `BatonError` those functions throw, with its wire code and rule.
 *
 * The replay, in the order the broker meets each step:
 *   1. `--task`: the first agent of the chain opens a task from the template with the user's
 *      token (exchange/start-task.ts): its ceiling narrowed to that agent's scopes (rule 1),
 *      one approval of the ceiling by the template's and the scopes' approvers (rule 6).
 *   2. `--via A,B`: in delegation order: A gets the user's token and delegates to B, B to the
 *      agent asked about. Each step is a delegation token (rules 1, 4, 5).
 *   3. The agent exchanges the last token for an access token for the API (rules 1, 2, 4),
 *      then rule 6: elevated scopes wait for their approvers, unless the task's standing
 *      approval covers them.
 * Assumed, since no request is at hand: the user's token bounds no scope and outlives the
 * grant, and each delegator delegates exactly the scopes asked about (the most it could pass on).
 *
 * @module exchange/operations/explain-grant
 */

import { BatonError, type ErrorCode, unauthorizedClient } from "../../errors.js";
import type { Agent, Api, Policy, TaskTemplate } from "../../policy/types.js";
import type { TaskRecord } from "../../tasks/task-store.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { approversFor } from "../steps/approval.js";
import { extendChain } from "../steps/narrow.js";
import { resolveApi } from "../steps/target.js";
import type { Subject } from "../steps/verify-subject.js";
import type { TokenExchangeRequest } from "../types.js";
import { type Grant, planAccess, planDelegation } from "./exchange.js";
import { planTask } from "./start-task.js";

export interface ExplainQuery {
  /** The agent that asks for the access token. */
  readonly agent: string;
  /** The API id or its resource URI. */
  readonly api: string;
  readonly scopes: readonly string[];
  /** The delegators, in delegation order: the first got the user's token, the last delegated to `agent`. */
  readonly via?: readonly string[];
  /** A task template: the task is opened by the first agent of the chain. */
  readonly task?: string;
}

/** A question that names something the policy does not define: bad input, not a refusal. */
export class ExplainInputError extends Error {
  override readonly name = "ExplainInputError";
}

export type Verdict =
  | { readonly kind: "issued" }
  /** Issued once every approver has approved: per grant, or once when the task opens. */
  | {
      readonly kind: "approval";
      readonly approvers: readonly string[];
      readonly at: "grant" | "task";
    }
  | { readonly kind: "refused"; readonly error: ErrorCode; readonly rule: string };

/** One rule that decided, with the values it decided on. */
export interface Finding {
  /** What was checked: `agent`, `task`, `delegation`, `api`, `scope`, `chain`, `approval`, `lifetime`. */
  readonly check: string;
  readonly ok: boolean;
  readonly text: string;
  /** The broker's rule id, on the finding that refused. */
  readonly rule?: string;
}

export interface Explanation {
  readonly verdict: Verdict;
  /** In the order the broker meets them; the last one refused, when the verdict is a refusal. */
  readonly findings: readonly Finding[];
  /** The token that would be issued (scopes, chain outermost first, lifetimes in seconds). */
  readonly grant?: {
    readonly agent: string;
    readonly api: string;
    readonly resource: string;
    readonly scopes: readonly string[];
    readonly act: readonly string[];
    readonly defaultTtl: number;
    readonly maxTtl: number;
  };
  readonly assumptions: readonly string[];
}

/** What the replay takes for granted, since no real token is at hand. */
const assumptionsFor = (input: Input) => [
  "the user's token bounds no scope and outlives the grant",
  ...(input.via.length > 0 ? ["each delegator delegates exactly the scopes asked about"] : []),
];

/** Time zero: lifetimes come out in seconds. */
const NOW = 0;
const USER = "subject";

export function explainGrant(policy: Policy, query: ExplainQuery): Explanation {
  const input = resolveInput(policy, query);
  const findings: Finding[] = [];
  try {
    const outcome = replay(policy, input, undefined, findings);
    const longest = replay(policy, input, policy.broker.maxTtl, []);
    const { grant, task, taskApprovers } = outcome;
    findings.push(lifetimeFinding(policy, input, grant.exp, longest.grant.exp, task));
    const approvers = approversFor(policy, grant.scopes);
    // exchange.ts checkElevated: a standing task approval covers every grant of the task.
    const verdict: Verdict =
      taskApprovers.length > 0
        ? { kind: "approval", approvers: taskApprovers, at: "task" }
        : approvers.length > 0
          ? { kind: "approval", approvers, at: "grant" }
          : { kind: "issued" };
    return {
      verdict,
      findings,
      grant: {
        agent: input.agent.id,
        api: input.api.id,
        resource: input.api.resource,
        scopes: grant.scopes,
        act: grant.chain,
        defaultTtl: grant.exp - NOW,
        maxTtl: longest.grant.exp - NOW,
      },
      assumptions: assumptionsFor(input),
    };
  } catch (err) {
    if (!(err instanceof BatonError)) throw err;
    // The broker stops at its first refusal: the first finding that failed is that one.
    const failed = findings.findIndex((f) => !f.ok);
    const first = findings[failed];
    if (first) findings.splice(failed, findings.length - failed, { ...first, rule: err.rule });
    else findings.push({ check: "rule", ok: false, text: err.message, rule: err.rule });
    return {
      verdict: { kind: "refused", error: err.code, rule: err.rule },
      findings,
      assumptions: assumptionsFor(input),
    };
  }
}

interface Input {
  readonly agent: Agent;
  readonly api: Api;
  readonly scopes: readonly string[];
  /** Delegation order. */
  readonly via: readonly Agent[];
  readonly template?: TaskTemplate;
}

/** Every id on the command line must exist: a typo is bad input, never a policy refusal. */
function resolveInput(policy: Policy, query: ExplainQuery): Input {
  const agentOf = (id: string) => {
    const agent = policy.agents.get(id);
    if (!agent) throw new ExplainInputError(unknown("agent", id, policy.agents.keys()));
    return agent;
  };
  const agent = agentOf(query.agent);
  const via = (query.via ?? []).map(agentOf);
  let api: Api;
  try {
    // The broker's own lookup: an API id or its exact resource URI (rule 3).
    api = resolveApi(policy, { ...request(query.scopes), audiences: [query.api] });
  } catch (err) {
    if (!(err instanceof BatonError)) throw err;
    throw new ExplainInputError(unknown("API", query.api, policy.apis.keys()));
  }
  if (query.scopes.length === 0) throw new ExplainInputError("name at least one scope");
  const template = query.task === undefined ? undefined : policy.tasks.get(query.task);
  if (query.task !== undefined && !template) {
    throw new ExplainInputError(unknown("task template", query.task, policy.tasks.keys()));
  }
  return { agent, api, scopes: query.scopes, via, ...(template ? { template } : {}) };
}

function unknown(kind: string, id: string, known: Iterable<string>): string {
  const names = [...known];
  return `unknown ${kind} "${id}"${names.length > 0 ? ` (known: ${names.join(", ")})` : ""}`;
}

/** A request as the door would parse it; tokens are not needed by the pure planners. */
function request(scopes: readonly string[], ttlSeconds?: number): TokenExchangeRequest {
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

/** Steps 1 to 3 of the module comment; throws the first refusal. */
function replay(
  policy: Policy,
  input: Input,
  ttlSeconds: number | undefined,
  findings: Finding[],
): Outcome {
  const user: Subject = { source: "issuer", sub: USER, chain: [], exp: Number.POSITIVE_INFINITY };
  const opener = input.via[0] ?? input.agent;
  const opened = input.template
    ? openTask(policy, input.template, opener, user, findings)
    : undefined;
  const task = opened?.task;

  let subject = user;
  const agents = [...input.via, input.agent];
  for (let i = 0; i + 1 < agents.length; i++) {
    const from = agents[i] as Agent;
    const to = agents[i + 1] as Agent;
    requireEnabled(from, findings);
    const step = {
      check: "delegation",
      ok: false,
      text: delegationText(policy, from, to, subject, input.scopes),
    };
    findings.push(step);
    const grant = planDelegation(
      policy,
      {
        ...request(input.scopes, ttlSeconds),
        requestedTokenType: TOKEN_TYPE.jwt,
        audiences: [to.id],
      },
      from,
      subject,
      task,
      NOW,
    );
    findings[findings.length - 1] = { ...step, ok: true };
    // What exchange/subject.ts reads back from the delegation token.
    subject = {
      source: "delegation",
      sub: user.sub,
      chain: grant.chain,
      scopes: new Set(grant.scopes),
      exp: grant.exp,
      mayAct: to.id,
      ...(task ? { txn: task.id } : {}),
    };
  }

  requireEnabled(input.agent, findings);
  findings.push({
    check: "api",
    ok: true,
    text: `api ${input.api.id}: aud ${input.api.resource} ✓`,
  });
  const scopeFindings = input.scopes.map((s) => scopeFinding(policy, input, s, task, opened));
  findings.push(...scopeFindings);
  // exchange.ts planAccess: impersonation (no `act`) only on a user's own token.
  const impersonates = input.agent.impersonate && subject.chain.length === 0;
  const chain = [input.agent.id, ...subject.chain];
  findings.push({
    check: "chain",
    ok: impersonates || fitsChain(policy, chain),
    text: chainText(policy, input.agent, subject),
  });
  const grant = planAccess(
    policy,
    { ...request(input.scopes, ttlSeconds), audiences: [input.api.id] },
    input.agent,
    subject,
    task,
    NOW,
  );
  findings[findings.length - 1] = {
    check: "chain",
    ok: true,
    text: chainText(policy, input.agent, subject, grant),
  };
  return { grant, ...(task ? { task } : {}), taskApprovers: opened?.approvers ?? [] };
}

/** exchange/accept-subject.ts: a disabled agent authenticates but may not exchange. */
function requireEnabled(agent: Agent, findings: Finding[]): void {
  const text = `agent ${agent.id}: ${agent.disabled ? "disabled" : "enabled"} ${mark(!agent.disabled)}`;
  // Checked on every exchange; said once (the opener of a task delegates next).
  if (!findings.some((f) => f.text === text)) {
    findings.push({ check: "agent", ok: !agent.disabled, text });
  }
  if (agent.disabled) throw unauthorizedClient("client.disabled");
}

interface OpenedTask {
  readonly task: TaskRecord;
  readonly approvers: readonly string[];
}

/** exchange/start-task.ts with a template: the ceiling, the approvers, the deadline. */
function openTask(
  policy: Policy,
  template: TaskTemplate,
  opener: Agent,
  user: Subject,
  findings: Finding[],
): OpenedTask {
  requireEnabled(opener, findings);
  const missing = template.ceiling.filter((s) => !opener.scopes.has(s));
  const head = `task ${template.id}: opened by ${opener.id}, ceiling ${template.ceiling.join(" ")}`;
  findings.push({
    check: "task",
    ok: missing.length === 0,
    text:
      missing.length === 0
        ? `${head} ${mark(true)}`
        : `${head}: ${missing.join(" ")} not in ${opener.id}'s scopes ${mark(false)}`,
  });
  // The broker's own plan (start-task.ts), not a copy of it.
  const { ceiling, deadline, maxTokens, approvers } = planTask(
    policy,
    { agent: opener, subject: user, template, request: {} },
    NOW,
  );
  if (approvers.length > 0) {
    findings.push({
      check: "approval",
      ok: true,
      text:
        `task ${template.id}: one approval by ${and(approvers)} when it opens covers ` +
        "every grant of the task (rule 6)",
    });
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
      // Once approved, a standing approval (exchange/task-scope.ts).
      ...(approvers.length > 0 ? { approvalId: "explain", approved: true } : {}),
    },
    approvers,
  };
}

function delegationText(
  policy: Policy,
  from: Agent,
  to: Agent,
  subject: Subject,
  scopes: readonly string[],
): string {
  const edge = from.delegateTo.has(to.id);
  const chain = [to.id, from.id, ...subject.chain];
  const held = (agent: Agent) => {
    const lacking = scopes.filter((s) => !agent.scopes.has(s));
    return lacking.length === 0
      ? `${agent.id}'s scopes hold ${scopes.join(" ")} ${mark(true)}`
      : `${agent.id}'s scopes lack ${lacking.join(" ")} ${mark(false)}`;
  };
  return (
    `delegation ${from.id} → ${to.id}: ${to.id} in ${from.id}'s delegate_to ${mark(edge)}, ` +
    `${held(from)}, ${held(to)}, act chain ${chain.join(", ")} ` +
    `(${chain.length} of max_depth ${policy.broker.maxDepth}) ${mark(fitsChain(policy, chain))}`
  );
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

function chainText(policy: Policy, agent: Agent, subject: Subject, grant?: Grant): string {
  if (grant && grant.chain.length === 0) {
    return `act: none: ${agent.id} may impersonate and acts on the user's own token (RFC 8693 §1.1)`;
  }
  const chain = [agent.id, ...subject.chain];
  return (
    `act chain ${chain.join(", ")} (outermost first, ${chain.length} of max_depth ` +
    `${policy.broker.maxDepth}) ${mark(fitsChain(policy, chain))}`
  );
}

/** One scope against every bound of rule 1, then rule 6. */
function scopeFinding(
  policy: Policy,
  input: Input,
  name: string,
  task: TaskRecord | undefined,
  opened: OpenedTask | undefined,
): Finding {
  const scope = policy.scopes.get(name);
  if (!scope) {
    return { check: "scope", ok: false, text: `scope ${name}: no API defines it ${mark(false)}` };
  }
  const parts: [string, boolean][] = [
    [
      scope.api === input.api.id ? `in API ${input.api.id}` : `belongs to API ${scope.api}`,
      scope.api === input.api.id,
    ],
    [`in agent ${input.agent.id}'s scopes`, input.agent.scopes.has(name)],
  ];
  if (task) parts.push([`in task ${task.template}'s ceiling`, task.ceiling.includes(name)]);
  const ok = parts.every(([, pass]) => pass);
  const text = parts.map(([what, pass]) => `${what} ${mark(pass)}`);
  if (scope.approval !== undefined) {
    text.push(
      opened && opened.approvers.length > 0
        ? `elevated: approval by ${scope.approval}, given once for the task`
        : `elevated: approval by ${scope.approval}`,
    );
  }
  return { check: "scope", ok, text: `scope ${name}: ${text.join(", ")}` };
}

function lifetimeFinding(
  policy: Policy,
  input: Input,
  defaultExp: number,
  longestExp: number,
  task: TaskRecord | undefined,
): Finding {
  const { broker } = policy;
  const caps = [
    ...(input.api.maxTtl === undefined
      ? []
      : [`API ${input.api.id} max_ttl ${duration(input.api.maxTtl)}`]),
    `broker max_ttl ${duration(broker.maxTtl)}`,
    ...(task ? [`task ${task.template} deadline ${duration(task.deadline - NOW)}`] : []),
  ];
  return {
    check: "lifetime",
    ok: true,
    text:
      `lifetime: ${duration(defaultExp - NOW)} by default (default_ttl ${duration(broker.defaultTtl)}` +
      `${input.via.length > 0 ? ", and no longer than each delegation token" : ""}), ` +
      `at most ${duration(longestExp - NOW)} (${caps.join(", ")})`,
  };
}

const mark = (ok: boolean) => (ok ? "✓" : "✗");

const and = (items: readonly string[]) => items.join(" and ");

/** 3600 → `1h`, 5400 → `1h30m`, 45 → `45s`: the policy's own spelling where it can be. */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const text = `${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${s > 0 ? `${s}s` : ""}`;
  return text === "" ? "0s" : text;
}
