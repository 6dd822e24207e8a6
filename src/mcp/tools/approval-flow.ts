/**
 * What `request_token` and `start_task` do when a grant waits for a human (rule 6): ask the
 * user in their MCP client when they are the approver and the client can ask; otherwise tell
 * the agent where a human decides and how to poll.
 *
 * @module mcp/tools/approval-flow
 */

import { BatonError } from "../../errors.js";
import type { ApprovalView, TaskView } from "../../exchange/broker.js";
import type { HumanAnswer, ToolSession } from "../elicit.js";
import { presented, type Session } from "../session.js";
import { taskResult } from "./schemas.js";

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
  // URL mode opens the approval page: none is served by the embedded stdio server.
  if (!modes.url || session.approvalPage === false) return "undecided";
  if (!(await human.sendToPage(view, status))) return "undecided";
  const now = await status();
  return now.status === "approved" || now.status === "denied" ? now.status : "undecided";
}

/**
 * Seconds between `approval_status` polls: the `interval` the core's `authorization_pending`
 * names (RFC 8628 §3.5; exchange/steps/approval.ts, held equal by test/mcp/approval-hints).
 */
export const POLL_SECONDS = 5;

/**
 * The next steps while a human decides (design §3.5, issue 16 item 4): who decides and where
 * (the page when one is served, else the operator's command), how often to poll, and `then`.
 */
export function approvalHint(session: Session, view: ApprovalView, then: string): string {
  const where =
    session.approvalPage === false
      ? `No approval page is served here: ask the operator to run \`baton approvals approve ${view.approval_id}\`.`
      : `Show ${decider(view.approvers)} approve_url to decide.`;
  return `${where} Poll approval_status with approval_id every ${POLL_SECONDS} s; once approved, ${then}`;
}

/** Who must decide, from the approvers the policy names (rule 6). */
function decider(approvers: readonly string[]): string {
  const groups = approvers.filter((a) => a !== "subject");
  const members = groups.length === 0 ? "" : `a member of ${groups.join(" and ")}`;
  if (!approvers.includes("subject")) return members;
  return members === "" ? "the user" : `the user and ${members}`;
}

/** The result that tells an agent to wait: design §3.5 `approval_required`, with its hint. */
export function approvalRequired(session: Session, view: ApprovalView) {
  return {
    status: "approval_required",
    approval_id: view.approval_id,
    // Only a link a human can open: the embedded server serves none.
    ...(session.approvalPage === false ? {} : { approve_url: view.approval_uri }),
    expires_in: view.expires_in,
    hint: approvalHint(session, view, "repeat this same call with approval_id added."),
  };
}

/** A task whose ceiling waits for a human (`start_task`): the task, and what to do meanwhile. */
export async function pendingTask(session: Session, task: TaskView) {
  const { approve_url, ...rest } = taskResult(task);
  if (task.approval_id === undefined) return rest;
  const view = await session.broker.approvalStatus(task.approval_id, session.caller);
  return {
    ...rest,
    ...(session.approvalPage === false || approve_url === undefined ? {} : { approve_url }),
    hint: approvalHint(session, view, "work in the task: pass its task_id."),
  };
}
