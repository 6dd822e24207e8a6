/**
 * The exchange core: one function behind both doors (POST /token and the MCP tools).
 *
 * It reads as the checklist of design §4: count the attempt against the rate limits (§3.6),
 * verify the subject (and actor), check the holder and the lineage, resolve the one target,
 * narrow scope, lifetime and chain, sign once, record, audit. Every refusal is audited with
 * the rule behind it.
 *
 * @module exchange/operations/exchange
 */

import type { TokenKind } from "../../audit/events.js";
import { asBatonError } from "../../errors.js";
import type { Agent, Policy } from "../../policy/types.js";
import type { TaskRecord } from "../../tasks/task-store.js";
import { actClaim } from "../../tokens/act.js";
import { newTokenId, signToken } from "../../tokens/mint.js";
import { ACCESS_TOKEN_TYP, DELEGATION_TOKEN_TYP, TOKEN_TYPE } from "../../tokens/token-types.js";
import { acceptSubject, requireDelegated } from "../steps/accept-subject.js";
import { approversFor, requireApproval } from "../steps/approval.js";
import { chargeTask, coveredByTask, resolveTask } from "../steps/enter-task.js";
import { type Origin, recordToken } from "../steps/lineage.js";
import { extendChain, narrowExpiry, narrowScopes } from "../steps/narrow.js";
import { pinPolicy } from "../steps/prepare-policy.js";
import { chargeAgentRate, chargeSubjectRate } from "../steps/rate-limit.js";
import { resolveApi, resolveSubAgent } from "../steps/target.js";
import { appendToTaskLog } from "../steps/task-tree-events.js";
import type { Subject } from "../steps/verify-subject.js";
import type { Caller, ExchangeDeps, ExchangeResult, TokenExchangeRequest } from "../types.js";

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
    const plan = request.requestedTokenType === TOKEN_TYPE.jwt ? planDelegation : planAccess;
    const grant = plan(
      policy,
      request,
      accepted.agent,
      accepted.subject,
      scope?.task,
      now,
      accepted.delegators,
    );
    if (grant.kind === "access") {
      await checkElevated(deps, grant, accepted.subject, request, scope?.task, now);
    }
    // Counted last, once everything else allows the token: a refusal costs no budget.
    await chargeTask(deps, scope, now);
    return await issue(
      deps,
      grant,
      accepted.subject,
      { ids: scope?.lineage ?? accepted.lineage, outside: accepted.outside },
      request.reason,
      now,
      policy.version,
    );
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

/** What will be signed: decided in full before any signature or write. */
export interface Grant {
  // Who acts, for what target, with what, until when, in which task.
  readonly kind: TokenKind;
  readonly agent: Agent;
  /** Current actor first; empty for a permitted impersonation. */
  readonly chain: readonly string[];
  /** The API id or the sub-agent id. */
  readonly audience: string;
  /** The `aud` claim: the API's resource, or the broker itself for a delegation token. */
  readonly aud?: string;
  readonly scopes: readonly string[];
  readonly exp: number;
  /** The task id (`txn`), inside a task. */
  readonly txn?: string;
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

/** An access token for one API. */
export const planAccess: Planner = (policy, request, agent, subject, task, now, delegators) => {
  const api = resolveApi(policy, request, agent);
  const scopes = narrowScopes(policy, request.scopes, {
    agent,
    subject,
    api,
    delegators,
    ...ceilingOf(task),
  });
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
 * Rule 6: an access token with an elevated scope waits for a human, bound to this exact
 * request, unless a standing approval of the task's ceiling already covers it: one that names
 * this agent with these scopes (enter-task.ts `coveredByTask`).
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

async function issue(
  deps: ExchangeDeps,
  grant: Grant,
  subject: Subject,
  origin: Origin,
  reason: string | undefined,
  now: number,
  policyVersion: string,
): Promise<ExchangeResult> {
  const jti = newTokenId();
  const act = actClaim(grant.chain);
  const delegation = grant.kind === "delegation";
  const token = await signToken(deps.keys, delegation ? DELEGATION_TOKEN_TYP : ACCESS_TOKEN_TYP, {
    iss: deps.issuer,
    sub: subject.sub,
    aud: delegation ? deps.issuer : grant.aud,
    client_id: grant.agent.id,
    scope: grant.scopes.join(" "),
    iat: now,
    exp: grant.exp,
    jti,
    ...(act ? { act } : {}),
    ...(delegation ? { may_act: { sub: grant.audience } } : {}),
    ...(grant.txn ? { txn: grant.txn } : {}),
  });
  // The record lands before the token leaves: no token without its lineage (rule 7, 8).
  await recordToken(
    deps.store,
    jti,
    {
      a: [...origin.ids],
      k: grant.kind,
      sub: subject.sub,
      cid: grant.agent.id,
      exp: grant.exp,
      // Only a delegation token is ever a subject again, and only then does this matter.
      ...(delegation && origin.outside > 0 ? { o: origin.outside } : {}),
    },
    now,
  );
  const issued = {
    type: "exchange.issued" as const,
    subject: subject.sub,
    chain: grant.chain,
    agent: grant.agent.id,
    kind: grant.kind,
    audience: grant.audience,
    scopes: grant.scopes,
    jti,
    ...(subject.jti ? { parent_jti: subject.jti } : {}),
    exp: grant.exp,
    ...(grant.txn ? { txn: grant.txn } : {}),
    ...(reason ? { reason } : {}),
    policy: policyVersion,
  };
  deps.audit.record(issued);
  // Rule 8, for the audit trail too: the token leaves once its event is in the file, and,
  // inside a task, in the task's log.
  await Promise.all([
    deps.audit.written(),
    grant.txn === undefined ? undefined : appendToTaskLog(deps, grant.txn, grant.exp, issued),
  ]);
  return {
    token,
    kind: grant.kind,
    issuedTokenType: delegation ? TOKEN_TYPE.jwt : TOKEN_TYPE.accessToken,
    tokenType: delegation ? "N_A" : "Bearer",
    expiresIn: grant.exp - now,
    scopes: grant.scopes,
    audience: grant.audience,
    ...(grant.aud ? { resource: grant.aud } : {}),
    jti,
    exp: grant.exp,
    ...(grant.txn ? { txn: grant.txn } : {}),
  };
}
