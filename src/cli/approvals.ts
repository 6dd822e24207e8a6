/**
 * `baton approvals list | approve ID | deny ID | login --as NAME`: the operator's approval desk.
 * Decisions are recorded in the audit log as the operator's.
 *
 * @module cli/approvals
 */

import { recentApprovals, stateOf } from "../approvals/approval-store.js";
import { createLoginLink } from "../exchange/approver-session.js";
import { decideApproval } from "../exchange/operations/decide-approval.js";
import type { ExchangeDeps } from "../exchange/types.js";

export interface Out {
  log(line: string): void;
}

/** Pending requests first, newest first; one line each. */
export async function listApprovals(deps: ExchangeDeps, out: Out, all: boolean): Promise<void> {
  const now = deps.clock.now();
  const rows = (await recentApprovals(deps.store))
    .map((r) => ({ r, state: stateOf(r, now) }))
    .filter(({ state }) => all || state === "pending");
  if (rows.length === 0) {
    out.log(all ? "No approval requests." : "No pending approval requests.");
    return;
  }
  for (const { r, state } of rows) {
    const left = state === "pending" ? ` (${Math.ceil((r.expiresAt - now) / 60)} min left)` : "";
    out.log(
      `${r.id}  ${state}${left}  ${r.chain.join(" <- ")} for ${r.subject}: ${r.target} [${r.scopes.join(" ")}]` +
        `  approvers: ${r.approvers.join(", ")}${r.reason ? `  reason: ${JSON.stringify(r.reason)}` : ""}`,
    );
  }
}

export async function decideFromCli(
  deps: ExchangeDeps,
  out: Out,
  id: string,
  decision: "approved" | "denied",
): Promise<void> {
  const record = await decideApproval(deps, id, decision, { operator: true }, "cli");
  out.log(
    `${record.id} ${decision} (${record.scopes.join(" ")} for ${record.client} on ${record.target}).`,
  );
}

export async function printLoginLink(deps: ExchangeDeps, out: Out, person: string): Promise<void> {
  const { url, expiresAt } = await createLoginLink(deps, person);
  out.log(
    `One-time sign-in link for ${person}, valid until ${new Date(expiresAt * 1000).toISOString()}:`,
  );
  out.log(url);
}
