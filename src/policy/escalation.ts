/**
 * Warnings about a valid policy (issue 8): grants that reach further than their author may
 * think, and parts of the policy that can never be used. Pure: a compiled policy in, typed
 * warnings out; `baton policy check` prints them and still exits 0.
 *
 * What is flagged, and why (each rests on what the broker really enforces, design §4):
 *
 * (a) Escalation paths.
 *   (No warning for sub-agents under a task's approval any more: that approval names every
 *   agent it covers, the opener and each agent a delegation can reach with an elevated scope of
 *   the ceiling (policy/delegation-reach.ts), and the broker holds a task's grants to that set
 *   (exchange/steps/enter-task.ts `coveredByTask`); an agent a hot reload makes reachable later
 *   asks for its own approval. The approver sees who uses the scope, so nothing is hidden.)
 *   - `impersonation-hides-agent`: an agent with `impersonate: true` acting on a user's own
 *     token gets tokens without `act` (RFC 8693 §1.1). For an elevated scope the approval is
 *     still asked, but its request, like the token, shows no agent in the chain: the approver
 *     and the API cannot tell the agent from the user.
 *   - `approver-is-agent`: an approver group member equal to an agent id. Rule 6: approvals are
 *     decided by humans, never by an agent; a token whose `sub` is that id (client-credentials
 *     tokens of many identity providers carry the client id as `sub`) would pass as approver.
 * (b) `scope-unreachable`: a scope no enabled agent lists. Rule 1 intersects with the agent's
 *     scopes, so no token can ever carry it.
 * (c) Delegation that can never happen. The schema requires every agent to have a credential
 *     (schema.ts), so every agent can exchange a user's own token: an agent that no one
 *     delegates to is a root agent, the normal case, and is not flagged by itself. What is
 *     flagged:
 *   - `agent-outside-delegation`: in a policy that delegates at all, an enabled agent that no
 *     agent delegates to and that delegates to none. It is cut off from every chain, which is
 *     most often a sub-agent whose `delegate_to` edge was forgotten.
 *   - `delegation-unusable`: a `delegate_to` edge that can carry nothing: its target is
 *     disabled, the two agents share no scope (a delegation token is narrowed to both, rule 1),
 *     or `max_depth` is 1 (rule 4: no chain has room for two agents).
 *   - `agent-without-scopes`: an enabled agent that lists no scopes can get no token and
 *     delegate none.
 * Disabled agents are cut off on purpose: their own edges and scopes are not reported.
 *
 * @module policy/escalation
 */

import type { PolicySource } from "./compile.js";
import type { Agent, Policy } from "./types.js";

export type PolicyWarningKind =
  | "impersonation-hides-agent"
  | "approver-is-agent"
  | "scope-unreachable"
  | "delegation-unusable"
  | "agent-outside-delegation"
  | "agent-without-scopes";

export interface PolicyWarning {
  readonly kind: PolicyWarningKind;
  /** The policy file that defines the key, as in `file: path: message` (policy-error.ts). */
  readonly file: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Which file defines each id (ids share one namespace, design §3.3). */
export type DefinedIn = ReadonlyMap<string, string>;

const SECTIONS = ["apis", "agents", "tasks", "approvers"] as const;

/** Reads the files a valid policy was compiled from: id → file. */
export function definedIn(sources: readonly PolicySource[]): DefinedIn {
  const files = new Map<string, string>();
  for (const { file, data } of sources) {
    const sections = (data ?? {}) as Partial<Record<string, Record<string, unknown>>>;
    for (const section of SECTIONS) {
      for (const id of Object.keys(sections[section] ?? {})) files.set(id, file);
    }
  }
  return files;
}

/** Every warning about `policy`, in a stable order: (a), then (b), then (c). */
export function findPolicyWarnings(policy: Policy, where: DefinedIn): PolicyWarning[] {
  const fileOf = (id: string) => where.get(id) ?? policy.files[0] ?? "policy";
  return [
    ...impersonationHidesAgent(policy, fileOf),
    ...approversThatAreAgents(policy, fileOf),
    ...unreachableScopes(policy, fileOf),
    ...unusableDelegations(policy, fileOf),
    ...agentsOutsideDelegation(policy, fileOf),
    ...agentsWithoutScopes(policy, fileOf),
  ];
}

type FileOf = (id: string) => string;

const enabled = (policy: Policy) => [...policy.agents.values()].filter((a) => !a.disabled);
const list = (items: Iterable<string>) => [...items].join(", ");

/** (a) Impersonation with an elevated scope: no agent in the token or its approval request. */
function impersonationHidesAgent(policy: Policy, fileOf: FileOf): PolicyWarning[] {
  return enabled(policy)
    .filter((agent) => agent.impersonate)
    .flatMap((agent) => {
      const elevated = [...agent.scopes].filter((s) => policy.scopes.get(s)?.approval);
      if (elevated.length === 0) return [];
      return [
        {
          kind: "impersonation-hides-agent" as const,
          file: fileOf(agent.id),
          path: ["agents", agent.id, "impersonate"],
          message:
            `${agent.id} may impersonate and holds elevated scope${elevated.length === 1 ? "" : "s"} ` +
            `${list(elevated)}: on a user's own token its tokens carry no act, so neither the ` +
            "approver nor the API can tell the agent from the user (RFC 8693 §1.1)",
        },
      ];
    });
}

/** (a) An agent id among the approvers: rule 6 wants a human. */
function approversThatAreAgents(policy: Policy, fileOf: FileOf): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  for (const [group, members] of policy.approvers) {
    [...members].forEach((member, i) => {
      if (!policy.agents.has(member)) return;
      warnings.push({
        kind: "approver-is-agent",
        file: fileOf(group),
        path: ["approvers", group, i],
        message:
          `"${member}" is an agent id: a token whose sub is ${member} would let it decide ` +
          "approvals, which only a human may",
      });
    });
  }
  return warnings;
}

/** (b) A scope that no enabled agent lists: rule 1 keeps it out of every token. */
function unreachableScopes(policy: Policy, fileOf: FileOf): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  for (const scope of policy.scopes.values()) {
    const holders = [...policy.agents.values()].filter((a) => a.scopes.has(scope.name));
    if (holders.some((a) => !a.disabled)) continue;
    const who =
      holders.length === 0
        ? "no agent lists it"
        : `only disabled agents list it (${list(holders.map((a) => a.id))})`;
    warnings.push({
      kind: "scope-unreachable",
      file: fileOf(scope.api),
      path: ["apis", scope.api, "scopes", scope.name],
      message: `${who}: no token can ever carry it`,
    });
  }
  return warnings;
}

/** (c) A `delegate_to` edge that can never carry a delegation token. */
function unusableDelegations(policy: Policy, fileOf: FileOf): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  for (const agent of enabled(policy)) {
    [...agent.delegateTo].forEach((id, i) => {
      const target = policy.agents.get(id);
      if (!target) return; // cross-check.ts refuses unknown agents already
      const why = deadEdgeReason(policy, agent, target);
      if (why === undefined) return;
      warnings.push({
        kind: "delegation-unusable",
        file: fileOf(agent.id),
        path: ["agents", agent.id, "delegate_to", i],
        message: `${agent.id} can never delegate to ${id}: ${why}`,
      });
    });
  }
  return warnings;
}

function deadEdgeReason(policy: Policy, from: Agent, to: Agent): string | undefined {
  if (to.disabled) return `${to.id} is disabled`;
  if (policy.broker.maxDepth < 2) {
    return "broker.max_depth is 1, so no chain has room for two agents";
  }
  if (![...from.scopes].some((s) => to.scopes.has(s))) {
    return "they share no scope, and a delegation token is narrowed to both";
  }
  return undefined;
}

/** (c) In a policy that delegates, an agent in no delegation: no edge in, none out. */
function agentsOutsideDelegation(policy: Policy, fileOf: FileOf): PolicyWarning[] {
  const agents = enabled(policy);
  const targets = new Set(agents.flatMap((a) => [...a.delegateTo]));
  if (targets.size === 0) return []; // no delegation at all: every agent is a root, by design
  return agents
    .filter((a) => a.scopes.size > 0 && a.delegateTo.size === 0 && !targets.has(a.id))
    .map((agent) => ({
      kind: "agent-outside-delegation" as const,
      file: fileOf(agent.id),
      path: ["agents", agent.id],
      message:
        "no agent delegates to it and it delegates to none: it acts only on a user's own token. " +
        "If it is meant to be a sub-agent, add it to its delegator's delegate_to",
    }));
}

/** (c) An enabled agent with no scopes: nothing to get, nothing to delegate. */
function agentsWithoutScopes(policy: Policy, fileOf: FileOf): PolicyWarning[] {
  return enabled(policy)
    .filter((agent) => agent.scopes.size === 0)
    .map((agent) => ({
      kind: "agent-without-scopes" as const,
      file: fileOf(agent.id),
      path: ["agents", agent.id, "scopes"],
      message: "lists no scopes: this agent can get no token and delegate none",
    }));
}
