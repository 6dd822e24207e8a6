/**
 * `baton mcp` on stdio: one session, one agent, for the lifetime of the process. stdout is
 * the MCP channel and carries nothing else.
 *
 * @module mcp/stdio
 */

import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { connectMcpServer } from "./server.js";
import type { Session } from "./session.js";

/** Serves until the client closes stdin; resolves then. */
export async function serveStdio(session: Session): Promise<void> {
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
  });
  const server = await connectMcpServer(session, transport);
  process.stdin.once("end", () => void server.close());
  await closed;
}
