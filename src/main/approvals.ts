/**
 * `baton approvals list | approve ID | deny ID | login`: the operator's approval desk.
 *
 * @module main/approvals
 */

import type { ExchangeDeps } from "../exchange/types.js";
import { openBroker } from "./compose.js";
import { offlineOptions, type SharedFlags, terminal } from "./settings.js";

/** Runs one desk command on a broker opened for it, closed again whatever happens. */
export const desk =
  (run: (deps: ExchangeDeps, out: { log(line: string): void }) => Promise<void>) =>
  async (flags: SharedFlags) => {
    const broker = await openBroker(offlineOptions(flags));
    try {
      await run(broker.deps, terminal);
    } finally {
      await broker.close();
    }
  };
