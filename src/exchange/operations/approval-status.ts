/**
 * What an agent may know of an approval it asked for (the `approval_status` tool, and the
 * elicitation prompt): its state and the exact grant it covers. Only the requesting agent sees it.
 *
 * @module exchange/operations/approval-status
 */

import { readOwnApproval, stateOf } from "../../approvals/approval-store.js";
import { invalidRequest } from "../../errors.js";
import type { CoveredAgent } from "../../policy/delegation-reach.js";
import { approvalUri } from "../../urls.js";
import type { Caller, ExchangeDeps } from "../types.js";

export interface ApprovalView {
  readonly approval_id: string;
  readonly status: "pending" | "approved" | "denied" | "expired";
  readonly approval_uri: string;
  /** Epoch seconds. */
  readonly expires_at: number;
  /** Seconds left to decide (0 once expired). */
  readonly expires_in: number;
  readonly subject: string;
  /** The client that asked (the only one that sees and redeems it). */
  readonly client: string;
  /** The agents, current first; empty for a permitted impersonation. */
  readonly chain: readonly string[];
  /** The API id, or for a task its template (or `ceiling`). */
  readonly target: string;
  readonly scopes: readonly string[];
  /** Each scope's description from the policy: what the human is asked to allow. */
  readonly scope_descriptions: Readonly<Record<string, string>>;
  readonly ttl: number | null;
  readonly task: string | null;
  readonly approvers: readonly string[];
  readonly reason?: string;
  /** For a task: every agent its one approval covers, each with its elevated scopes. */
  readonly covers?: readonly CoveredAgent[];
}

export async function approvalStatus(
  deps: ExchangeDeps,
  caller: Caller,
  id: string,
): Promise<ApprovalView> {
  const record = await readOwnApproval(deps.store, id, caller.agentId);
  const mine =
    record !== undefined &&
    (caller.sessionSubject === undefined || caller.sessionSubject === record.subject);
  if (!record || !mine) throw invalidRequest("The approval is not known", "approval.unknown");
  return {
    approval_id: record.id,
    status: stateOf(record, deps.clock.now()),
    approval_uri: approvalUri(deps.issuer, record.id),
    expires_at: record.expiresAt,
    expires_in: Math.max(0, record.expiresAt - deps.clock.now()),
    subject: record.subject,
    client: record.client,
    chain: record.chain,
    target: record.target,
    scopes: record.scopes,
    scope_descriptions: Object.fromEntries(
      record.scopes.map((s) => [s, deps.active().policy.scopes.get(s)?.description ?? ""]),
    ),
    ttl: record.ttl,
    task: record.task ?? record.taskId ?? null,
    approvers: record.approvers,
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    ...(record.covers === undefined ? {} : { covers: record.covers }),
  };
}
