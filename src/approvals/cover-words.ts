/**
 * A task approval's covered set in plain words, the same on every surface that shows an
 * approval to a human (the approval page, the MCP prompt, the operator's desk):
 * `orchestrator (flights.book); flight-booker (flights.book) by delegation`.
 *
 * @module approvals/cover-words
 */

import type { CoveredAgent } from "../policy/delegation-reach.js";

/** One covered agent: its id, its elevated scopes, and how it gets them. */
export function coveredAgentWords(c: CoveredAgent): string {
  const scopes = c.scopes.length === 0 ? "no elevated scope" : c.scopes.join(", ");
  return `${c.agent} (${scopes})${c.delegated ? " by delegation" : ""}`;
}

/** The whole set, `;`-separated, opener first. */
export function coverWords(covers: readonly CoveredAgent[]): string {
  return covers.map(coveredAgentWords).join("; ");
}
