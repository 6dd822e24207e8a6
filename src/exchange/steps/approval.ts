/**
 * Rule 6: an elevated grant waits for a human. The request is bound by digest to an approval
 * record; the agent polls (`authorization_pending`, like CIBA) and retries with `approval_id`;
 * an approved record is consumed atomically, once. Denied → `access_denied`; too late →
 * `expired_token`; any field changed → not covered.
 *
 * @module exchange/steps/approval
 */

import {
  type ApprovalGrant,
  type ApprovalRecord,
  claimDigest,
  consumeApproval,
  dropApproval,
  grantDigest,
  listApproval,
  newApprovalId,
  pendingFor,
  readOwnApproval,
  saveApproval,
  stateOf,
  takeSlot,
} from "../../approvals/approval-store.js";
import {
  approvalDenied,
  approvalExpired,
  authorizationPending,
  type BatonError,
  invalidRequest,
  slowDown,
} from "../../errors.js";
import type { Policy } from "../../policy/types.js";
import { approvalUri } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";
import { appendToTaskLog } from "./task-tree-events.js";

/** Seconds a client should wait between polls (RFC 8628 §3.5, CIBA `interval`). */
export const POLL_INTERVAL = 5;

/** The approvals a grant needs: `subject` and/or approver groups, one per elevated scope. */
export function approversFor(policy: Policy, scopes: readonly string[]): string[] {
  const needed = new Set<string>();
  for (const scope of scopes) {
    const approval = policy.scopes.get(scope)?.approval;
    if (approval !== undefined) needed.add(approval);
  }
  return [...needed].sort();
}

export interface ApprovalAsk {
  readonly grant: ApprovalGrant;
  readonly approvers: readonly string[];
  readonly agent: string;
  readonly reason?: string;
  /** The approval the client retries with, if any. */
  readonly approvalId?: string;
  /** For a task approval: the task it opens. */
  readonly taskId?: string;
}

/**
 * Passes when the grant is approved (consuming the approval), or throws what the client must
 * do next. Without `approvalId`, opens a new approval and throws `authorization_pending`.
 */
export async function requireApproval(
  deps: ExchangeDeps,
  ask: ApprovalAsk,
  now: number,
): Promise<void> {
  if (ask.approvalId === undefined) {
    throw pending(deps, await openApproval(deps, ask, now));
  }
  // Rule 6: another client's approval reads as unknown, and so does one for another request.
  const record = await readOwnApproval(deps.store, ask.approvalId, ask.grant.client);
  if (!record || record.digest !== grantDigest(ask.grant)) {
    throw invalidRequest("The approval does not cover this request", "approval.mismatch");
  }
  await redeem(deps, record, now);
}

/** Throws unless the approval is approved: pending, denied and expired each say so. */
export function requireApproved(deps: ExchangeDeps, record: ApprovalRecord, now: number): void {
  const state = stateOf(record, now);
  if (state === "pending") throw pending(deps, record);
  if (state === "denied") {
    throw approvalDenied();
  }
  if (state === "expired") {
    throw approvalExpired();
  }
}

/** Checks a decided approval and consumes it, exactly once across every process. */
export async function redeem(
  deps: ExchangeDeps,
  record: ApprovalRecord,
  now: number,
): Promise<void> {
  requireApproved(deps, record, now);
  if (!(await consumeApproval(deps.store, record, now))) {
    throw invalidRequest("The approval has already been used", "approval.used");
  }
  deps.audit.record({
    type: "approval.redeemed",
    approval: record.id,
    agent: record.client,
  });
}

/**
 * Opens an approval request for a human to decide, or returns the one still pending for this
 * exact request (design §3.5: asking twice is no second request to a human). Throws `slow_down`
 * when the agent already has `max_open_approvals` pending.
 */
export async function openApproval(
  deps: ExchangeDeps,
  ask: ApprovalAsk,
  now: number,
): Promise<ApprovalRecord> {
  const { broker } = deps.active().policy;
  const digest = grantDigest(ask.grant);
  const same = await pendingFor(deps.store, digest, now);
  if (same) return same;
  const record: ApprovalRecord = {
    ...ask.grant,
    id: newApprovalId(),
    digest,
    approvers: ask.approvers,
    state: "pending",
    ...(ask.reason === undefined ? {} : { reason: ask.reason }),
    ...(ask.taskId === undefined ? {} : { taskId: ask.taskId }),
    createdAt: now,
    expiresAt: now + broker.approvalTtl,
  };
  // Written before it is claimed, so that whoever loses the claim finds the winner's record.
  await saveApproval(deps.store, record, now);
  if (!(await claimDigest(deps.store, record, now))) {
    const winner = await pendingFor(deps.store, digest, now);
    if (winner) {
      await dropApproval(deps.store, record);
      return winner;
    }
  }
  // A cap per agent on pending approvals: an agent cannot flood its approvers.
  const slot = await takeSlot(deps.store, record, broker.maxOpenApprovals, now);
  if (!slot.taken) {
    await dropApproval(deps.store, record);
    throw slowDown("Too many approval requests are open", "approval.cap", slot.retryAfter);
  }
  await listApproval(deps.store, record, now);
  const event = requested(ask.agent, record);
  deps.audit.record(event);
  if (record.task) await appendToTaskLog(deps, record.task, record.expiresAt, event);
  if (broker.approvalWebhook) notify(broker.approvalWebhook, deps.issuer, record);
  return record;
}

/** What an approval asks a human to grant, as the audit event and the webhook both tell it. */
const asked = (record: ApprovalRecord) => ({
  subject: record.subject,
  chain: record.chain,
  target: record.target,
  scopes: record.scopes,
  approvers: record.approvers,
  expires_at: record.expiresAt,
});

const requested = (agent: string, record: ApprovalRecord) => ({
  type: "approval.requested" as const,
  approval: record.id,
  agent,
  ...asked(record),
  ...(record.task ? { txn: record.task } : {}),
  ...(record.covers === undefined ? {} : { covers: record.covers }),
});

/** The error a client polls on: the approval's id, where a human decides, how often to ask. */
export function pending(deps: ExchangeDeps, record: ApprovalRecord): BatonError {
  return authorizationPending({
    approval_id: record.id,
    approval_uri: approvalUri(deps.issuer, record.id),
    interval: POLL_INTERVAL,
  });
}

/** Fire and forget: a slow or failing webhook never holds up or fails an exchange. */
function notify(url: string, issuer: string, record: ApprovalRecord): void {
  const body = {
    type: "approval.requested",
    approval_id: record.id,
    approval_uri: approvalUri(issuer, record.id),
    ...asked(record),
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    // A task's approval: every agent it covers, as the page shows them.
    ...(record.covers === undefined ? {} : { covers: record.covers }),
  };
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  }).catch(() => undefined);
}
