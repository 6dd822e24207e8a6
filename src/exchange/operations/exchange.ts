/**
 * The exchange core: one function behind both doors (POST /token and the MCP tools), for
 * each kind of token (design §3.4): an access token, a delegation token, an ID-JAG.
 *
 * It reads as the checklist of design §4: count the attempt against the rate limits (§3.6),
 * verify the subject (and actor), check the holder and the lineage, resolve the one target,
 * narrow scope, lifetime and chain, sign once, record, audit. Every refusal is audited with
 * the rule behind it.
 *
 * @module exchange/operations/exchange
 */

import { asBatonError } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import type { TaskRecord } from "../../tasks/task-store.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { acceptSubject, requireDelegated } from "../steps/accept-subject.js";
import { approversFor, requireApproval } from "../steps/approval.js";
import { chargeTask, coveredByTask, resolveTask } from "../steps/enter-task.js";
import type { Grant } from "../steps/grant.js";
import { ID_JAG_TTL, naming, resolveIdJagTarget } from "../steps/id-jag-target.js";
import { issue } from "../steps/issue.js";
import { extendChain, narrowExpiry, narrowScopes } from "../steps/narrow.js";
import { pinPolicy } from "../steps/prepare-policy.js";
import { chargeAgentRate, chargeSubjectRate } from "../steps/rate-limit.js";
import { resolveAnyApi, resolveApi, resolveSubAgent } from "../steps/target.js";
import type { Subject } from "../steps/verify-subject.js";
import type { Caller, ExchangeDeps, ExchangeResult, TokenExchangeRequest } from "../types.js";

export type { Grant } from "../steps/grant.js";

export async function exchangeToken(
  current: ExchangeDeps,
  request: TokenExchangeRequest,
  caller: Caller,
): Promise<ExchangeResult> {
  const deps = pinPolicy(current);
  const { policy } = deps.active();
  const now = deps.clock.now();
  let subject: Subject | undefined;
  try {
    // Counted before anything else, refused or not: limits also stop probing (issue 6).
    await chargeAgentRate(deps, caller.agentId, now);
    const accepted = await acceptSubject(deps, caller, request, now, (s) => {
      subject = s;
    });
    requireDelegated(accepted);
    await chargeSubjectRate(deps, accepted.subject.sub, now);
    const scope = await resolveTask(deps, accepted, request.taskId, now);
    const grant = plannerFor(request)(
      policy,
      request,
      accepted.agent,
      accepted.subject,
      scope?.task,
      now,
      accepted.delegators,
    );
    if (grant.kind !== "delegation") {
      await checkElevated(deps, grant, accepted.subject, request, scope?.task, now);
    }
    // Counted last, once everything else allows the token: a refusal costs no budget.
    await chargeTask(deps, scope, now);
    return await issue(deps, grant, {
      subject: accepted.subject,
      origin: { ids: scope?.lineage ?? accepted.lineage, outside: accepted.outside },
      reason: request.reason,
      now,
      policyVersion: policy.version,
    });
  } catch (err) {
    const error = asBatonError(err);
    // The target as the request named it (bounded at the door): what was asked for.
    const target = request.audiences[0] ?? request.resources[0];
    deps.audit.record({
      type: "exchange.denied",
      error: error.code,
      rule: error.rule,
      agent: caller.agentId,
      ...(subject ? { subject: subject.sub } : {}),
      ...(target === undefined ? {} : { audience: target }),
      ...(request.scopes ? { scopes: request.scopes } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
      policy: policy.version,
    });
    throw error;
  }
}

/**
 * A planner decides one kind of grant in full from the policy, the request, the acting agent,
 * its subject, the task (if any) and the delegators along the chain; it signs and writes
 * nothing. Both are exported for `baton policy explain` (explain-replay.ts): one decision,
 * never two.
 */
export type Planner = (
  policy: Policy,
  request: TokenExchangeRequest,
  agent: Agent,
  subject: Subject,
  task: TaskRecord | undefined,
  now: number,
  delegators?: readonly Agent[],
) => Grant;

/** Rule 1 for a token to one API: the API, the agent, the subject, its delegators, the task. */
function scopesFor(
  policy: Policy,
  request: TokenExchangeRequest,
  api: Api,
  who: { agent: Agent; subject: Subject; task?: TaskRecord; delegators?: readonly Agent[] },
): string[] {
  const { agent, subject, task, delegators } = who;
  return narrowScopes(policy, request.scopes, {
    agent,
    subject,
    api,
    delegators,
    ...ceilingOf(task),
  });
}

/** An access token for one API. */
export const planAccess: Planner = (policy, request, agent, subject, task, now, delegators) => {
  const api = resolveApi(policy, request, agent);
  const scopes = scopesFor(policy, request, api, { agent, subject, task, delegators });
  // RFC 8693 §1.1: impersonation (no `act`) only when policy allows it, no actor token was
  // sent, and the subject is not delegated already (a delegated subject keeps its chain).
  const impersonate =
    agent.impersonate && subject.chain.length === 0 && request.actorToken === undefined;
  return {
    kind: "access",
    agent,
    chain: impersonate ? [] : extendChain(policy, agent.id, subject.chain),
    scopes,
    exp: narrowExpiry(policy, now, request.ttlSeconds, subject, api, task?.deadline),
    audience: api.id,
    aud: api.resource,
    ...(task ? { txn: task.id } : {}),
  };
};

/**
 * An ID-JAG for an API behind its own authorization server (design §3.4;
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3): every rule of an access token, with
 * the server's issuer as `aud`, the API as `resource` and the agent's client there as
 * `client_id`. It always carries `act`: the chain names the Baton agent it was issued to,
 * which its foreign `client_id` does not (no impersonation for a token leaving Baton).
 */
export const planIdJag: Planner = (policy, request, agent, subject, task, now, delegators) => {
  const { api, clientId } = resolveIdJagTarget(policy, request, agent);
  const scopes = scopesFor(policy, request, api, { agent, subject, task, delegators });
  // Design §3.4: an ID-JAG is short-lived, 5 minutes unless asked for less (rule 2 caps it).
  const ttl = request.ttlSeconds ?? ID_JAG_TTL;
  return {
    kind: "id_jag",
    agent,
    chain: extendChain(policy, agent.id, subject.chain),
    scopes,
    exp: narrowExpiry(policy, now, ttl, subject, api, task?.deadline),
    audience: api.id,
    aud: api.authorizationServer,
    resource: api.resource,
    clientId,
    ...(task ? { txn: task.id } : {}),
  };
};

/**
 * `request_token` over MCP names an API, whichever token it takes: an access token, or for an
 * API behind its own authorization server an ID-JAG, asked for as a client would ask for it.
 */
const planForApi: Planner = (policy, request, agent, ...rest) => {
  const api = resolveAnyApi(policy, request, agent);
  return api.authorizationServer === undefined
    ? planAccess(policy, request, agent, ...rest)
    : planIdJag(policy, { ...request, ...naming(api) }, agent, ...rest);
};

/** The planner of the requested token type (parsed at the door: one of the three). */
function plannerFor(request: TokenExchangeRequest): Planner {
  if (request.requestedTokenType === TOKEN_TYPE.jwt) return planDelegation;
  if (request.requestedTokenType === TOKEN_TYPE.idJag) return planIdJag;
  return request.idJagIfOutside ? planForApi : planAccess;
}

const ceilingOf = (task: TaskRecord | undefined) => (task ? { ceiling: task.ceiling } : {});

/** A delegation token for one sub-agent, which it could redeem. */
export const planDelegation: Planner = (policy, request, agent, subject, task, now, delegators) => {
  const subAgent = resolveSubAgent(policy, request, agent);
  const chain = extendChain(policy, agent.id, subject.chain);
  // Refuse now what the sub-agent could never redeem: a cycle, or a chain past max_depth.
  extendChain(policy, subAgent.id, chain);
  return {
    kind: "delegation",
    agent,
    chain,
    scopes: narrowScopes(policy, request.scopes, {
      agent,
      subject,
      subAgent,
      delegators,
      ...ceilingOf(task),
    }),
    exp: narrowExpiry(policy, now, request.ttlSeconds, subject, undefined, task?.deadline),
    audience: subAgent.id,
    ...(task ? { txn: task.id } : {}),
  };
};

/**
 * Rule 6: an access token or an ID-JAG with an elevated scope waits for a human, bound to this
 * exact request, unless a standing approval of the task's ceiling already covers it: one that
 * names this agent with these scopes (enter-task.ts `coveredByTask`). An API takes one kind or
 * the other, never both (target.ts), so the API id alone tells an approver what is granted.
 */
async function checkElevated(
  deps: ExchangeDeps,
  grant: Grant,
  subject: Subject,
  request: TokenExchangeRequest,
  task: TaskRecord | undefined,
  now: number,
): Promise<void> {
  const { policy } = deps.active();
  const approvers = approversFor(policy, grant.scopes);
  if (approvers.length === 0) return;
  if (task && coveredByTask(policy, task, grant.agent.id, grant.scopes)) return;
  await requireApproval(
    deps,
    {
      grant: {
        kind: "access",
        subject: subject.sub,
        client: grant.agent.id,
        chain: grant.chain,
        target: grant.audience,
        scopes: grant.scopes,
        ttl: request.ttlSeconds ?? null,
        task: task?.id ?? null,
      },
      approvers,
      agent: grant.agent.id,
      ...(request.reason === undefined ? {} : { reason: request.reason }),
      ...(request.approvalId === undefined ? {} : { approvalId: request.approvalId }),
    },
    now,
  );
}
