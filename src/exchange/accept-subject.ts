/**
 * The first half of every exchange, shared with `describeSession`: is this agent allowed to
 * act on this subject token right now? Verify it (and the actor token), check who holds it,
 * check it belongs to the caller's session, and check neither it nor an ancestor is revoked.
 *
 * @module exchange/accept-subject
 */

import { invalidToken, unauthorizedClient } from "../errors.js";
import type { Agent, Policy } from "../policy/types.js";
import { verifyActor } from "./actor.js";
import { anyRevoked, subjectLineage } from "./lineage.js";
import { type Subject, verifySubject } from "./subject.js";
import type { Caller, ExchangeDeps } from "./types.js";

export interface AcceptedSubject {
  readonly agent: Agent;
  readonly subject: Subject;
  /** Lineage ids the next token inherits (rule 7). */
  readonly lineage: readonly string[];
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
  checkHolder(subject, agent);
  checkDelegationEdge(policy, subject, agent);
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
  const lineage = await subjectLineage(deps.store, subject);
  if (!lineage || (await anyRevoked(deps.store, lineage))) throw invalidToken("subject.revoked");
  return { agent, subject, lineage };
}

function exchangingAgent(policy: Policy, caller: Caller): Agent {
  const agent = policy.agents.get(caller.agentId);
  // Authentication happened at the door; an agent since removed or disabled may not exchange.
  if (!agent || agent.disabled) throw unauthorizedClient("client.disabled");
  return agent;
}

/**
 * Rule 5 under the policy in force, not the one that minted the token (issue 9): a delegation
 * token is redeemable only while its delegator still delegates to the holder.
 */
function checkDelegationEdge(policy: Policy, subject: Subject, agent: Agent): void {
  if (subject.source !== "delegation") return;
  const delegator = policy.agents.get(subject.chain[0] as string);
  if (!delegator?.delegateTo.has(agent.id)) throw invalidToken("subject.delegation_edge");
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
