/**
 * What `request_token` and `start_task` do when a grant waits for a human (rule 6): ask the
 * user in their MCP client when they are the approver and the client can ask; otherwise tell
 * the agent where a human decides and how to poll.
 *
 * @module mcp/tools/approval-flow
 */

import { BatonError } from "../../errors.js";
import type { ApprovalView } from "../../exchange/broker.js";
import type { HumanAnswer, ToolSession } from "../elicit.js";
import { presented, type Session } from "../session.js";

/** The approval id of an `authorization_pending` refusal, or undefined for any other error. */
export function pendingApprovalId(err: unknown): string | undefined {
  if (!(err instanceof BatonError) || err.code !== "authorization_pending") return undefined;
  const id = err.extra.approval_id;
  return typeof id === "string" ? id : undefined;
}

/**
 * Asks the session's human when the grant is theirs alone to decide (`approval: subject`). Form
 * mode records their answer as their decision; it needs a session whose broker can prove who the user
 * is (the core). URL mode sends them to the approval page, where they sign in and decide; the
 * answer is then whatever the page has recorded when the client replies. Group approvals are
 * decided on the page or the CLI.
 */
export async function settleApproval(
  session: Session,
  human: ToolSession,
  approvalId: string,
): Promise<HumanAnswer> {
  const { broker, caller } = session;
  const status = () => broker.approvalStatus(approvalId, caller);
  const view = await status();
  const theirs = view.approvers.length === 1 && view.approvers[0] === "subject";
  if (view.status !== "pending" || !theirs) return "undecided";
  const modes = human.modes();
  if (modes.form && session.userDecides) {
    const decision = await human.askHuman(view);
    if (decision !== "undecided") {
      await broker.decideApproval({ approvalId, decision, ...(await presented(session)) }, caller);
    }
    return decision;
  }
  if (!modes.url) return "undecided";
  if (!(await human.sendToPage(view, status))) return "undecided";
  const now = await status();
  return now.status === "approved" || now.status === "denied" ? now.status : "undecided";
}

/** The result that tells an agent to wait: design §3.5 `approval_required`. */
export function approvalRequired(view: ApprovalView) {
  return {
    status: "approval_required",
    approval_id: view.approval_id,
    approve_url: view.approval_uri,
    expires_in: view.expires_in,
  };
}
