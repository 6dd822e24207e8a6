/**
 * The JWT bearer grant with an ID-JAG (RFC 7523 §2.1; draft-ietf-oauth-identity-assertion-
 * authz-grant §4.4; MCP Enterprise-Managed Authorization §7.2.1): an access token for one of
 * Baton's APIs, or for Baton's own `/mcp`, for the user an IdP that policy trusts with
 * `id_jag: true` vouches for, to the client that IdP named.
 *
 * The checklist of design §4, as for an exchange: count the attempt (§3.6), verify the ID-JAG,
 * check its client and subject, charge the subject's rate, resolve the one target, narrow
 * scope, lifetime and chain, wait for a human where a scope is elevated (rule 6), spend the
 * ID-JAG once, sign, record, audit. Every refusal is audited with its rule.
 *
 * @module exchange/operations/redeem-id-jag
 */

import { asBatonError, invalidGrant, unauthorizedClient } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import { actClaim } from "../../tokens/act.js";
import { newTokenId, signToken } from "../../tokens/mint.js";
import { ACCESS_TOKEN_TYP, TOKEN_TYPE } from "../../tokens/token-types.js";
import { approversFor, requireApproval } from "../steps/approval.js";
import { lineageClaims } from "../steps/lineage.js";
import { narrowScopes } from "../steps/narrow.js";
import { pinPolicy } from "../steps/prepare-policy.js";
import { chargeAgentRate, chargeSubjectRate } from "../steps/rate-limit.js";
import {
  checkIdJagParties,
  type IdJag,
  redemptionTarget,
  requireUnspent,
  spendIdJag,
  verifyIdJag,
} from "../steps/verify-id-jag.js";
import type { Subject } from "../steps/verify-subject.js";
import type { Caller, ExchangeDeps, ExchangeResult, JwtBearerRequest } from "../types.js";

export async function redeemIdJag(
  current: ExchangeDeps,
  request: JwtBearerRequest,
  caller: Caller,
): Promise<ExchangeResult> {
  const deps = pinPolicy(current);
  const { policy } = deps.active();
  const now = deps.clock.now();
  let idJag: IdJag | undefined;
  try {
    // Counted before anything else, refused or not: limits also stop probing (issue 6).
    await chargeAgentRate(deps, caller.agentId, now);
    const agent = redeemingAgent(policy, caller);
    idJag = await verifyIdJag(deps, request.assertion, now);
    checkIdJagParties(policy, idJag, agent);
    await requireUnspent(deps, idJag);
    await chargeSubjectRate(deps, idJag.sub, now);
    const grant = planRedemption(policy, deps.issuer, request, agent, idJag, now);
    await checkElevated(deps, grant, idJag.sub, request, now);
    // Spent last, once everything else allows the token: a refusal or a pending approval
    // leaves the ID-JAG to be presented again (with `approval_id`), and of two concurrent
    // redemptions one issues, the other is a replay.
    await spendIdJag(deps, idJag, now);
    return await issue(deps, grant, idJag, request.reason, now, policy.version);
  } catch (err) {
    const error = asBatonError(err);
    deps.audit.record({
      type: "exchange.denied",
      error: error.code,
      rule: error.rule,
      agent: caller.agentId,
      ...(idJag ? { subject: idJag.sub, assertion_iss: idJag.iss } : {}),
      ...(request.scopes ? { scopes: request.scopes } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
      policy: policy.version,
    });
    throw error;
  }
}

/** What will be signed: decided in full before any signature or write. */
interface Redemption {
  /** An access token for an API, or the session token for Baton's `/mcp`. */
  readonly target: "api" | "mcp";
  readonly agent: Agent;
  /** Current actor first. */
  readonly chain: readonly string[];
  /** The API id, or the MCP resource. */
  readonly audience: string;
  /** The `aud` claim: the registry's resource, never request text (rule 3). */
  readonly aud: string;
  readonly scopes: readonly string[];
  readonly exp: number;
}

function redeemingAgent(policy: Policy, caller: Caller): Agent {
  const agent = policy.agents.get(caller.agentId);
  // Authentication happened at the door; an agent since removed or disabled gets nothing.
  if (!agent || agent.disabled) throw unauthorizedClient("client.disabled");
  return agent;
}

/**
 * Rules 1 to 4 for a redemption. Scope (EMA §7.2.1): the request's, each inside the ID-JAG's,
 * the agent's and the API's (a scope outside refuses, never dropped); with none requested,
 * the ID-JAG's scopes this agent may hold for this target; with neither, the API's
 * `default_scopes`. Lifetime (rule 2): within `default_ttl`, the API's and the broker's
 * `max_ttl`, and the ID-JAG's own `exp`. Chain (rule 4): the agent acts for the user, around
 * the actors the ID-JAG names; the `/mcp` token is the agent's own session credential (its
 * holder is `client_id`), and every token the session obtains then adds the agent to `act`.
 */
function planRedemption(
  policy: Policy,
  issuer: string,
  request: JwtBearerRequest,
  agent: Agent,
  idJag: IdJag,
  now: number,
): Redemption {
  const target = redemptionTarget(policy, issuer, idJag);
  const api = target.kind === "api" ? target.api : undefined;
  const subject: Subject = {
    source: "issuer",
    sub: idJag.sub,
    chain: idJag.chain,
    ...(idJag.scopes ? { scopes: idJag.scopes } : {}),
    exp: idJag.exp,
  };
  const requested = request.scopes ?? impliedScopes(policy, idJag, agent, api);
  const scopes = narrowScopes(policy, requested, { agent, subject, ...(api ? { api } : {}) });
  const { broker } = policy;
  const exp = Math.min(
    now + broker.defaultTtl,
    now + (api?.maxTtl ?? broker.maxTtl),
    now + broker.maxTtl,
    idJag.exp,
  );
  // Within the clock skew the verifier allows, but no second of life left to give.
  if (exp <= now) throw invalidGrant("assertion.claims");
  return {
    target: target.kind,
    agent,
    chain: api ? [agent.id, ...idJag.chain] : [...idJag.chain],
    audience: api?.id ?? target.resource,
    aud: target.resource,
    scopes,
    exp,
  };
}

/** With no scope requested: the ID-JAG's scopes that this agent may hold for this target. */
function impliedScopes(
  policy: Policy,
  idJag: IdJag,
  agent: Agent,
  api: Api | undefined,
): string[] | undefined {
  if (idJag.scopes === undefined) return undefined;
  return [...idJag.scopes].filter(
    (s) => agent.scopes.has(s) && (api === undefined || policy.scopes.get(s)?.api === api.id),
  );
}

/**
 * Rule 6: an access token with an elevated scope waits for a human, bound to this exact grant,
 * as an exchange does: `authorization_pending` with `approval_id`; the client repeats the
 * grant with `approval_id` (and the same ID-JAG while it lives, or a fresh one for the same
 * user, client, API and scopes). The `/mcp` token grants nothing by itself: each token the
 * session asks for meets its own approval.
 */
async function checkElevated(
  deps: ExchangeDeps,
  grant: Redemption,
  sub: string,
  request: JwtBearerRequest,
  now: number,
): Promise<void> {
  if (grant.target !== "api") return;
  const approvers = approversFor(deps.active().policy, grant.scopes);
  if (approvers.length === 0) return;
  await requireApproval(
    deps,
    {
      grant: {
        kind: "access",
        subject: sub,
        client: grant.agent.id,
        chain: grant.chain,
        target: grant.audience,
        scopes: grant.scopes,
        ttl: null,
        task: null,
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
  grant: Redemption,
  idJag: IdJag,
  reason: string | undefined,
  now: number,
  policyVersion: string,
): Promise<ExchangeResult> {
  const jti = newTokenId();
  const act = actClaim(grant.chain);
  // RFC 9068 §2: an access token, for the API or for Baton's `/mcp`.
  const token = await signToken(deps.keys, ACCESS_TOKEN_TYP, {
    iss: deps.issuer,
    sub: idJag.sub,
    aud: grant.aud,
    client_id: grant.agent.id,
    scope: grant.scopes.join(" "),
    iat: now,
    exp: grant.exp,
    jti,
    ...(act ? { act } : {}),
    // An outside ID-JAG is not Baton's to revoke: the lineage starts here (rule 7). Its actors
    // are all outside ones, which matters only to a `/mcp` session token, a subject to be.
    ...lineageClaims({ ids: [], outside: grant.chain.length }, grant.target === "mcp"),
  });
  deps.audit.record({
    type: "exchange.issued",
    subject: idJag.sub,
    chain: grant.chain,
    agent: grant.agent.id,
    kind: "access",
    audience: grant.audience,
    scopes: grant.scopes,
    jti,
    assertion: { iss: idJag.iss, jti: idJag.jti },
    exp: grant.exp,
    ...(reason ? { reason } : {}),
    policy: policyVersion,
  });
  // Rule 8: the token leaves once its event is in the file.
  await deps.audit.written();
  return {
    token,
    kind: "access",
    issuedTokenType: TOKEN_TYPE.accessToken,
    tokenType: "Bearer",
    expiresIn: grant.exp - now,
    scopes: grant.scopes,
    audience: grant.audience,
    resource: grant.aud,
    jti,
    exp: grant.exp,
  };
}
