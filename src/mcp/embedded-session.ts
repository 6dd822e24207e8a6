/**
 * The session of `baton mcp` embedded and of `/mcp` on `baton serve`: the core in this process,
 * whose user decides approvals in their own client (elicitation).
 *
 * @module mcp/embedded-session
 */

import { type Broker, type Caller, createBroker, type ExchangeDeps } from "../exchange/broker.js";
import type { Session } from "./session.js";

export function embeddedSession(
  core: Broker | ExchangeDeps,
  caller: Caller,
  subjectToken: () => Promise<string>,
  /** False for the embedded stdio server: nothing in this process serves the approval page. */
  approvalPage = true,
): Session {
  const broker = "exchange" in core ? core : createBroker(core);
  return { broker, caller, subjectToken, userDecides: true, approvalPage };
}
