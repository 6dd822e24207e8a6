/**
 * The session of `baton mcp --broker URL`: a `Broker` that speaks HTTP (mcp/remote-broker.ts)
 * under the same tools as the embedded mode.
 *
 * @module mcp/remote-session
 */

import { type RemoteBrokerOptions, remoteBroker } from "./remote-broker.js";
import type { Session } from "./session.js";

export interface RemoteSessionOptions extends RemoteBrokerOptions {
  readonly subjectToken: string;
}

export function remoteSession(options: RemoteSessionOptions): Session {
  const { subjectToken, ...broker } = options;
  return {
    broker: remoteBroker(broker),
    // The remote broker authenticates the agent by its credentials; this names it here.
    caller: { agentId: options.agentId },
    subjectToken: async () => subjectToken,
    // The person deciding must sign in to the broker's page: no decision through the agent.
    userDecides: false,
    // The broker it speaks to serves the page its approve_url names.
    approvalPage: true,
  };
}
