/**
 * Who a delegation chain can reach, and with what (pure): the one definition behind a task
 * approval's covered set (exchange/operations/start-task.ts, enforced by
 * exchange/steps/enter-task.ts `coveredByTask`) and `baton policy explain`.
 *
 * Delegation only narrows (design §4 rule 1): a sub-agent never gets a scope its delegators
 * lack. So the agents that can use an elevated scope inside a task are the opener and those
 * reachable from it along `delegate_to` edges (rule 5), on simple paths (rule 4: no agent acts
 * twice) of at most `max_depth` agents, every agent on the path enabled and holding the scope.
 *
 * @module policy/delegation-reach
 */

import type { Agent, Policy } from "./types.js";

/** One agent a task's approval covers, and the elevated scopes of the ceiling it could get. */
export interface CoveredAgent {
  readonly agent: string;
  readonly scopes: readonly string[];
  /** False for the opener; true for an agent that gets the scopes only by delegation. */
  readonly delegated: boolean;
}

/**
 * The agents other than those of `chain` that a delegation starting from `chain` reaches with
 * `scope`, nearest first (then in `delegate_to` order). `chain` is the act chain so far, the
 * current (outermost) agent first: its agents count against `max_depth` and cannot act again.
 */
export function delegatesHolding(policy: Policy, chain: readonly string[], scope: string): Agent[] {
  const found = new Map<string, Agent>();
  // Breadth first over simple paths: a path is a chain, its outermost agent first.
  let frontier: (readonly string[])[] = chain.length > 0 ? [chain] : [];
  while (frontier.length > 0) {
    const next: string[][] = [];
    for (const path of frontier) {
      if (path.length >= policy.broker.maxDepth) continue;
      for (const id of policy.agents.get(path[0] as string)?.delegateTo ?? []) {
        const agent = policy.agents.get(id);
        if (!agent || agent.disabled || !agent.scopes.has(scope) || path.includes(id)) continue;
        if (!found.has(id)) found.set(id, agent);
        next.push([id, ...path]);
      }
    }
    frontier = next;
  }
  return [...found.values()];
}

/**
 * What one approval of a task's ceiling covers: the opener (`chain[0]`) with every elevated
 * scope of `ceiling`, then each agent a delegation can reach with some of them (nearest first),
 * with those. A scope is elevated when policy names its `approval`.
 */
export function coveredAgents(
  policy: Policy,
  chain: readonly string[],
  ceiling: readonly string[],
): CoveredAgent[] {
  const [opener] = chain;
  if (opener === undefined) return [];
  const elevated = ceiling.filter((s) => policy.scopes.get(s)?.approval !== undefined);
  const reached = new Map<string, string[]>();
  for (const scope of elevated) {
    for (const agent of delegatesHolding(policy, chain, scope)) {
      reached.set(agent.id, [...(reached.get(agent.id) ?? []), scope]);
    }
  }
  return [
    { agent: opener, scopes: elevated, delegated: false },
    ...[...reached].map(([agent, scopes]) => ({ agent, scopes, delegated: true })),
  ];
}
