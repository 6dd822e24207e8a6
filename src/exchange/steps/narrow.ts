/**
 * The narrowing rules (design §4 rules 1, 2 and 4), as pure functions of the policy, the
 * subject and the request. Nothing here widens; every refusal names its rule.
 *
 * @module exchange/steps/narrow
 */

import { invalidScope, invalidToken, type ScopeFacts } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import type { Subject } from "./verify-subject.js";

/**
 * Rule 1: issued scope = requested, and every requested scope must lie inside each bound.
 * A scope outside any bound refuses the whole request: it is never silently dropped, and a
 * request without scope gets the API's `default_scopes`, never the maximum.
 */
export function narrowScopes(
  policy: Policy,
  requested: readonly string[] | undefined,
  bounds: {
    readonly agent: Agent;
    readonly subject: Subject;
    /** For an access token: the API the scopes must belong to. */
    readonly api?: Api;
    /** For a delegation token: the sub-agent, who must be able to use each scope. */
    readonly subAgent?: Agent;
    /** Inside a task: its ceiling. */
    readonly ceiling?: readonly string[];
    /** For a delegated subject: the agents that delegated, under the policy in force. */
    readonly delegators?: readonly Agent[];
  },
): string[] {
  const scopes = requested ?? bounds.api?.defaultScopes ?? [];
  // What the request may carry instead, for the refusal's facts (policy data, never input).
  const may = () => allowedScopes(policy, bounds);
  if (scopes.length === 0) throw invalidScope("A scope is required", "narrow.scope.none", may());
  for (const scope of scopes) {
    const known = policy.scopes.get(scope);
    if (!known) throw invalidScope("A requested scope is not known", "narrow.scope.unknown", may());
    if (bounds.api && known.api !== bounds.api.id) {
      throw invalidScope(
        "A requested scope does not belong to the target",
        "narrow.scope.api",
        may(),
      );
    }
    if (!bounds.agent.scopes.has(scope)) {
      throw invalidScope(
        "A requested scope is not allowed for this agent",
        "narrow.scope.agent",
        may(),
      );
    }
    if (bounds.subAgent && !bounds.subAgent.scopes.has(scope)) {
      throw invalidScope(
        "A requested scope is not allowed for the sub-agent",
        "narrow.scope.delegate",
        may(),
      );
    }
    if (bounds.subject.scopes && !bounds.subject.scopes.has(scope)) {
      throw invalidScope(
        "A requested scope exceeds the subject token",
        "narrow.scope.subject",
        may(),
      );
    }
    if (bounds.ceiling && !bounds.ceiling.includes(scope)) {
      throw invalidScope("A requested scope is outside the task ceiling", "narrow.scope.task", {
        ...may(),
        ceiling: [...bounds.ceiling],
      });
    }
    // A delegator that has since lost a scope can no longer have passed it on (issue 14).
    if (bounds.delegators?.some((d) => !d.scopes.has(scope))) {
      throw invalidScope(
        "A requested scope is no longer allowed for an agent that delegated it",
        "narrow.scope.delegator",
        may(),
      );
    }
  }
  return [...scopes];
}

/**
 * Every scope that passes each bound of `narrowScopes`: of the API (an access token), or of the
 * whole policy (a delegation token, a task ceiling). For a delegation, this is what the
 * sub-agent may receive: the delegator's ∩ the sub-agent's (∩ the subject token, the ceiling).
 */
function allowedScopes(policy: Policy, bounds: Parameters<typeof narrowScopes>[2]): ScopeFacts {
  const { agent, subject, api, subAgent, ceiling, delegators } = bounds;
  const candidates = api ? [...api.scopes.keys()] : [...policy.scopes.keys()];
  const allowed = candidates.filter(
    (scope) =>
      agent.scopes.has(scope) &&
      (subAgent === undefined || subAgent.scopes.has(scope)) &&
      (subject.scopes === undefined || subject.scopes.has(scope)) &&
      (ceiling === undefined || ceiling.includes(scope)) &&
      !delegators?.some((d) => !d.scopes.has(scope)),
  );
  const target = api?.id ?? subAgent?.id;
  return { ...(target === undefined ? {} : { target }), allowed };
}

/**
 * Rule 2: `exp` = min(now + requested ttl or default_ttl, the API's max_ttl, the broker's
 * max_ttl, the subject token's `exp`, the task deadline).
 */
export function narrowExpiry(
  policy: Policy,
  now: number,
  ttlSeconds: number | undefined,
  subject: Subject,
  api?: Api,
  deadline = Number.POSITIVE_INFINITY,
): number {
  const { broker } = policy;
  const exp = Math.min(
    now + (ttlSeconds ?? broker.defaultTtl),
    now + (api?.maxTtl ?? broker.maxTtl),
    now + broker.maxTtl,
    subject.exp,
    deadline,
  );
  if (exp <= now) throw invalidToken("subject.expired");
  return exp;
}

/**
 * Rule 4: the new chain is exactly the acting agent wrapped around the subject's chain. No
 * agent acts twice (no cycles) and the chain stays within `max_depth`.
 */
export function extendChain(policy: Policy, agentId: string, prior: readonly string[]): string[] {
  if (prior.includes(agentId)) throw invalidToken("chain.cycle");
  const chain = [agentId, ...prior];
  if (chain.length > policy.broker.maxDepth) throw invalidToken("chain.depth");
  return chain;
}
