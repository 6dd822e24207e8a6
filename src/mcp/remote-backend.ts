/**
 * The tools' backend as a client of a running broker (`baton mcp --broker URL`): the session
 * of mcp/core-backend.ts over a `Broker` that speaks HTTP (mcp/remote-broker.ts), so the
 * embedded and the remote mode are one code path above the front door.
 *
 * @module mcp/remote-backend
 */

import type { ToolBackend } from "./backend.js";
import { sessionBackend } from "./core-backend.js";
import { type RemoteBrokerOptions, remoteBroker } from "./remote-broker.js";

export interface RemoteBackendOptions extends RemoteBrokerOptions {
  readonly subjectToken: string;
}

export function remoteBackend(options: RemoteBackendOptions): ToolBackend {
  const { subjectToken, ...broker } = options;
  return sessionBackend(
    remoteBroker(broker),
    // The remote broker authenticates the agent by its credentials; this names it here.
    { agentId: options.agentId },
    async () => subjectToken,
    // The person deciding must sign in to the broker's page: no decision through the agent.
    { userDecides: false },
  );
}
