/**
 * `baton approvals list | approve ID | deny ID | login --as NAME`: the operator's approval desk.
 * Decisions are recorded in the audit log as the operator's (rule 6: the operator is a human
 * at the command line). The desk reaches the core through the broker; the approval page's
 * sign-in link is handed to it by main/approvals.ts (cli/ never imports http/).
 *
 * @module cli/approvals
 */

import { stateOf } from "../approvals/approval-store.js";
import { coverWords } from "../approvals/cover-words.js";
import type { Clock } from "../clock.js";
import type { ServingBroker } from "../exchange/broker.js";

export interface Out {
  log(line: string): void;
}

/** What the desk works with: the broker, its clock, and the approval page's sign-in links. */
export interface Desk {
  readonly broker: ServingBroker;
  readonly clock: Clock;
  /** A one-time sign-in link to the approval page for `person`. */
  loginLink(person: string): Promise<{ url: string; expiresAt: number }>;
}

const OPERATOR = { operator: true } as const;

/** Pending requests first, newest first; one line each. */
export async function listApprovals(desk: Desk, out: Out, all: boolean): Promise<void> {
  const now = desk.clock.now();
  const rows = (await desk.broker.approvalsFor(OPERATOR))
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
        // Rule 6: a task's one approval covers every agent it names, sub-agents included.
        `${r.covers ? `  covers: ${coverWords(r.covers)}` : ""}` +
        `  approvers: ${r.approvers.join(", ")}${r.reason ? `  reason: ${JSON.stringify(r.reason)}` : ""}`,
    );
  }
}

export async function decideFromCli(
  desk: Desk,
  out: Out,
  id: string,
  decision: "approved" | "denied",
): Promise<void> {
  const record = await desk.broker.decideAs(OPERATOR, id, decision);
  const covers = record.covers ? `; covers: ${coverWords(record.covers)}` : "";
  out.log(
    `${record.id} ${decision} (${record.scopes.join(" ")} for ${record.client} on ${record.target}${covers}).`,
  );
}

export async function printLoginLink(desk: Desk, out: Out, person: string): Promise<void> {
  const { url, expiresAt } = await desk.loginLink(person);
  out.log(
    `One-time sign-in link for ${person}, valid until ${new Date(expiresAt * 1000).toISOString()}:`,
  );
  out.log(url);
}
