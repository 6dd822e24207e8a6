/**
 * What the core answers for the approval page and the operator's desk (rule 6): who a person
 * is, by a user token of their own; which approvals a decider may see; who may look at a task's
 * delegation tree. The page's browser sessions are door work (http/approvals/approver-session.ts);
 * these are the decisions behind them, reached through the front door (exchange/broker.ts).
 *
 * @module exchange/operations/approvers
 */

import {
  type ApprovalRecord,
  readApproval,
  recentApprovals,
} from "../../approvals/approval-store.js";
import type { LoggedEvent } from "../../audit/task-tree.js";
import { readTask } from "../../tasks/task-store.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { approvalsAudienceOf } from "../../urls.js";
import { anyRevoked, subjectLineage } from "../steps/lineage.js";
import { verifySubject } from "../steps/verify-subject.js";
import type { ExchangeDeps } from "../types.js";
import { type Decider, mayDecide } from "./decide-approval.js";

/**
 * The person a user token (trusted issuer or development issuer) names in `sub`, or undefined
 * when it names no person here. Throws only `temporarily_unavailable` (the store did not
 * answer): a sign-in fails closed, and the page says so.
 *
 * Only a token issued for the approval page itself (`aud` = `<issuer>/approvals`) signs in.
 * The tokens a user hands to agents (for the broker, or for `/mcp`) never do: an agent holds
 * one, and with it could otherwise approve its own request as the user (rule 6: never by an
 * agent). A token that names an agent as its holder (`azp`, `client_id`, `may_act`) or carries
 * an `act` chain is an agent's, whatever its audience; a revoked one is refused.
 */
export async function authenticateApprover(
  deps: ExchangeDeps,
  token: string,
): Promise<string | undefined> {
  try {
    const subject = await verifySubject(deps, token, TOKEN_TYPE.jwt, deps.clock.now(), [
      approvalsAudienceOf(deps.issuer),
    ]);
    const agents = subject.source === "delegation" || subject.chain.length > 0;
    if (agents || subject.holder !== undefined || subject.mayAct !== undefined) return undefined;
    const lineage = await subjectLineage(deps.store, subject);
    if (!lineage || (await anyRevoked(deps.store, lineage))) return undefined;
    return subject.sub;
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "temporarily_unavailable") throw err;
    return undefined;
  }
}

const mayDecideAs = (deps: ExchangeDeps, decider: Decider, record: ApprovalRecord) =>
  "operator" in decider || mayDecide(deps.active().policy, record, decider.person);

/**
 * The recent approvals this decider may decide, newest first, in every state: nothing of
 * anyone else's. The operator at the command line may decide every one.
 */
export async function approvalsFor(
  deps: ExchangeDeps,
  decider: Decider,
): Promise<ApprovalRecord[]> {
  return (await recentApprovals(deps.store)).filter((r) => mayDecideAs(deps, decider, r));
}

/** One approval, if this decider may decide it (whatever its state). */
export async function approvalFor(
  deps: ExchangeDeps,
  decider: Decider,
  id: string,
): Promise<ApprovalRecord | undefined> {
  const record = await readApproval(deps.store, id);
  return record && mayDecideAs(deps, decider, record) ? record : undefined;
}

/**
 * Issue 8: who may see a task's delegation tree: the task's own user (its subject), and any
 * approver who may decide one of the task's approval requests (its ceiling's, or a grant's
 * inside it) while that request is still on record. The same checks as deciding, so a tree
 * shows nothing to someone who could not see the requests themselves.
 */
export async function mayViewTask(
  deps: ExchangeDeps,
  person: string,
  taskId: string,
  events: readonly LoggedEvent[],
): Promise<boolean> {
  const started = events.find((e) => e.type === "task.started");
  if (started?.type === "task.started" && started.subject === person) return true;
  const task = await readTask(deps.store, taskId);
  if (task?.subject === person) return true;
  const approvals = new Set<string>(task?.approvalId === undefined ? [] : [task.approvalId]);
  for (const e of events) if (e.type === "approval.requested") approvals.add(e.approval);
  for (const id of approvals) if (await approvalFor(deps, { person }, id)) return true;
  return false;
}
