/**
 * A human decides an approval (rule 6): only an approver the policy names for every elevated
 * scope of the grant (the user themselves for `subject`, a member for a group), or the operator
 * at the CLI. Never an agent, never a model's text: no tool argument reaches this function.
 *
 * @module exchange/operations/decide-approval
 */

import {
  type ApprovalRecord,
  readApproval,
  releaseDigest,
  saveApproval,
  stateOf,
} from "../../approvals/approval-store.js";
import { noLongerPending, notApprover } from "../../errors.js";
import type { Policy } from "../../policy/types.js";
import { acceptSubject, type PresentedTokens } from "../steps/accept-subject.js";
import type { Caller, ExchangeDeps } from "../types.js";

/** Who decides: a signed-in person (by subject id), or the operator at the command line. */
export type Decider = { readonly person: string } | { readonly operator: true };

/** Whether `person` may decide `record`: they must satisfy every approver it names. */
export function mayDecide(policy: Policy, record: ApprovalRecord, person: string): boolean {
  // Rule 6: a human decides. A sign-in whose subject is an agent id is an agent's, whatever
  // group lists it (`baton policy check` warns of such a member: approver-is-agent).
  if (policy.agents.has(person)) return false;
  return record.approvers.every((a) =>
    a === "subject" ? record.subject === person : (policy.approvers.get(a)?.has(person) ?? false),
  );
}

export async function decideApproval(
  deps: ExchangeDeps,
  id: string,
  decision: "approved" | "denied",
  decider: Decider,
  via: "web" | "cli" | "elicitation",
): Promise<ApprovalRecord> {
  const now = deps.clock.now();
  const record = await readApproval(deps.store, id);
  const by = "person" in decider ? decider.person : "operator";
  if (
    !record ||
    ("person" in decider && !mayDecide(deps.active().policy, record, decider.person))
  ) {
    // The same answer for "unknown" and "not yours": an approver cannot probe others' requests.
    throw notApprover();
  }
  if (stateOf(record, now) !== "pending") {
    throw noLongerPending();
  }
  // One decision, ever: the first to claim it wins, across every process on the store.
  if (
    !(await deps.store.add(`approval-decided:${id}`, by, (record.expiresAt - now + 600) * 1000))
  ) {
    throw noLongerPending();
  }
  // An approval decided late in its life still leaves the agent a full lifetime to redeem it.
  const redeemBy = now + deps.active().policy.broker.approvalTtl;
  const decided: ApprovalRecord = {
    ...record,
    state: decision,
    decidedBy: by,
    decidedAt: now,
    ...(decision === "approved" ? { expiresAt: redeemBy } : {}),
  };
  await saveApproval(deps.store, decided, now);
  // No longer pending: an identical request from now on asks a human anew (design §3.5).
  await releaseDigest(deps.store, decided);
  deps.audit.record({ type: "approval.decided", approval: id, decision, by, via });
  // Who decided is the audit trail's to keep: the answer waits until it is written.
  await deps.audit.written();
  return decided;
}

/**
 * The user decides in their own MCP client (elicitation, MCP 2025-11-25): the person is the
 * session's user, proven by the session's subject token, never named by the client or a model.
 */
export async function decideAsSessionUser(
  deps: ExchangeDeps,
  caller: Caller,
  presented: PresentedTokens,
  id: string,
  decision: "approved" | "denied",
): Promise<void> {
  const { subject } = await acceptSubject(deps, caller, presented, deps.clock.now());
  await decideApproval(deps, id, decision, { person: subject.sub }, "elicitation");
}
