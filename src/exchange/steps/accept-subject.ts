/**
 * The first half of every exchange, shared with `describeSession`: is this agent allowed to
 * act on this subject token right now? Verify it (and the actor token), check who holds it,
 * check it belongs to the caller's session, and check neither it nor an ancestor is revoked.
 *
 * @module exchange/steps/accept-subject
 */

import { invalidToken, unauthorizedClient } from "../../errors.js";
import type { Agent, Policy } from "../../policy/types.js";
import type { Caller, ExchangeDeps } from "../types.js";
import { verifyActor } from "./actor.js";
import { anyRevoked, subjectOrigin } from "./lineage.js";
import { type Subject, verifySubject } from "./verify-subject.js";

export interface AcceptedSubject {
  readonly agent: Agent;
  readonly subject: Subject;
  /** Lineage ids the next token inherits (rule 7). */
  readonly lineage: readonly string[];
  /** Actors at the end of the subject's chain that an outside issuer named, not Baton. */
  readonly outside: number;
  /**
   * The agents that delegated to the caller, current first, as the policy in force has them:
   * every scope the caller gets must still be theirs (rule 1).
   */
  readonly delegators: readonly Agent[];
}

export interface PresentedTokens {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken?: string;
  readonly actorTokenType?: string;
}

export async function acceptSubject(
  deps: ExchangeDeps,
  caller: Caller,
  presented: PresentedTokens,
  now: number,
  /** Receives the subject as soon as it is verified, so a later refusal can be audited with it. */
  onVerified?: (subject: Subject) => void,
): Promise<AcceptedSubject> {
  // One policy for the whole decision, even across the awaits below (issue 9).
  const { policy } = deps.active();
  const agent = exchangingAgent(policy, caller);
  const subject = await verifySubject(
    deps,
    presented.subjectToken,
    presented.subjectTokenType,
    now,
  );
  onVerified?.(subject);
  checkPerson(policy, subject);
  checkHolder(subject, agent);
  // An MCP session is bound to one user: a token for anyone else has no place in it.
  if (caller.sessionSubject !== undefined && subject.sub !== caller.sessionSubject) {
    throw invalidToken("subject.session");
  }
  if (presented.actorToken !== undefined) {
    await verifyActor(
      deps,
      agent.id,
      presented.actorToken,
      presented.actorTokenType as string,
      now,
    );
  }
  const origin = await subjectOrigin(deps.store, subject);
  if (!origin || (await anyRevoked(deps.store, origin.ids))) throw invalidToken("subject.revoked");
  const delegators = checkDelegationEdges(policy, subject, origin.outside, agent);
  return { agent, subject, lineage: origin.ids, outside: origin.outside, delegators };
}

/**
 * Policy `delegated_only` (design §3.3): such an agent acts only on a delegation token naming it
 * in `may_act` (checked by `checkHolder`), never on its user's own token, whichever issuer
 * signed that one (dev, trusted, the MCP session's bearer). Called by the operations that act
 * (exchange, start_task); describing the session or a user's decision in their client is no act.
 */
export function requireDelegated(accepted: Pick<AcceptedSubject, "agent" | "subject">): void {
  if (accepted.agent.delegatedOnly && accepted.subject.source !== "delegation") {
    throw invalidToken("subject.delegated_only");
  }
}

function exchangingAgent(policy: Policy, caller: Caller): Agent {
  const agent = policy.agents.get(caller.agentId);
  // Authentication happened at the door; an agent since removed or disabled may not exchange.
  if (!agent || agent.disabled) throw unauthorizedClient("client.disabled");
  return agent;
}

/**
 * The subject is a person, and the chain names each agent once (rule 4).
 *
 * RFC 9700 §4.15: a client must not be able to pass for a user. An agent's id as `sub` would
 * let it act with a user's authority under its own name (`sub=orchestrator, act=orchestrator`).
 * An inherited `act` (from a trusted issuer) that names an agent twice is a cycle already.
 */
function checkPerson(policy: Policy, subject: Subject): void {
  if (policy.agents.has(subject.sub)) throw invalidToken("subject.agent_sub");
  if (new Set(subject.chain).size !== subject.chain.length) throw invalidToken("chain.cycle");
}

/**
 * Rules 1 and 5 under the policy in force, not the one that minted the token (issue 9): a
 * delegation token is redeemable only while every link of its chain still holds. Each
 * delegator must still exist, be enabled and delegate to the next agent, down to the holder;
 * its scopes are checked against every delegator's in `narrowScopes`.
 */
function checkDelegationEdges(
  policy: Policy,
  subject: Subject,
  outside: number,
  agent: Agent,
): Agent[] {
  if (subject.source !== "delegation") return [];
  // The chain is current first: chain[0] delegated to the holder, chain[i+1] to chain[i]. The
  // outside actors at its end were there before Baton: no policy edge names them.
  const delegators: Agent[] = [];
  let next = agent.id;
  for (const id of subject.chain.slice(0, subject.chain.length - outside)) {
    const delegator = policy.agents.get(id);
    if (!delegator || delegator.disabled || !delegator.delegateTo.has(next)) {
      throw invalidToken("subject.delegation_edge");
    }
    delegators.push(delegator);
    next = id;
  }
  return delegators;
}

/**
 * A delegation token is usable only by the agent in its `may_act` (rule 5, RFC 8693 §4.4); a
 * user's token that names its holder (`azp` / `client_id`) only by that agent.
 */
function checkHolder(subject: Subject, agent: Agent): void {
  if (subject.mayAct !== undefined && subject.mayAct !== agent.id) {
    throw invalidToken("subject.may_act");
  }
  if (subject.holder !== undefined && subject.holder !== agent.id) {
    throw invalidToken("subject.holder");
  }
}
