/**
 * One MCP session: an agent and its user, over a `Broker` (design §5). The same whichever broker
 * it is: the core in this process (`createBroker`), or a running broker over HTTP (`baton mcp
 * --broker`, mcp/remote-broker.ts), so the embedded and the remote mode are one code path above
 * the front door. The tools take a session, build the core's request types from their input
 * themselves (tools/*.ts), call the broker, and render what comes back.
 *
 * @module mcp/session
 */

import type { Broker, Caller, PresentedTokens } from "../exchange/broker.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";

export interface Session {
  readonly broker: Broker;
  /** The agent the session acts as: on stdio the `--agent`, on HTTP the bearer's `client_id`. */
  readonly caller: Caller;
  /**
   * The session's subject token: `BATON_SUBJECT_TOKEN`, a development token, or the bearer
   * token of an HTTP session. Read per call, so a refreshed one is used.
   */
  readonly subjectToken: () => Promise<string>;
  /**
   * Whether the session's user may decide approvals in this client (elicitation form mode):
   * only where the broker itself checks the session's subject token as the person deciding,
   * never through a remote broker, which decides on its page or at its CLI only (rule 6).
   */
  readonly userDecides: boolean;
  /**
   * Whether a human can open the approval page (`approve_url`): a broker serving HTTP (`/mcp` on
   * `baton serve`, or `baton mcp --broker`). The embedded `baton mcp` has no listener: there the
   * operator decides with `baton approvals approve <id>` (design §3.5). Absent: served.
   */
  readonly approvalPage?: boolean;
}

/** The session's own subject token, as the core's requests carry it. */
export async function presented(session: Session): Promise<PresentedTokens> {
  return { subjectToken: await session.subjectToken(), subjectTokenType: TOKEN_TYPE.jwt };
}
