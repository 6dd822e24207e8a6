/**
 * `baton approvals list | approve ID | deny ID | login`: the operator's approval desk.
 *
 * @module main/approvals
 */

import type { Desk } from "../cli/approvals.js";
import { createBroker } from "../exchange/broker.js";
import { createLoginLink } from "../http/approvals/approver-session.js";
import { openBroker } from "./compose.js";
import { offlineOptions, type SharedFlags, terminal } from "./settings.js";

/** Runs one desk command on a broker opened for it, closed again whatever happens. */
export const desk =
  (run: (desk: Desk, out: { log(line: string): void }) => Promise<void>) =>
  async (flags: SharedFlags) => {
    const opened = await openBroker(offlineOptions(flags));
    try {
      const { deps } = opened;
      // The page's sign-in links live where its sessions do: the store every node shares.
      const loginLink = (person: string) => createLoginLink(deps, person);
      await run({ broker: createBroker(deps), clock: deps.clock, loginLink }, terminal);
    } finally {
      await opened.close();
    }
  };
