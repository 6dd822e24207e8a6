/**
 * `baton mcp` on stdio: one session, one agent, for the lifetime of the process. stdout is
 * the MCP channel and carries nothing else.
 *
 * @module mcp/stdio
 */

import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { ToolBackend } from "./backend.js";
import { connectMcpServer } from "./server.js";

/** Serves until the client closes stdin; resolves then. */
export async function serveStdio(backend: ToolBackend): Promise<void> {
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
  });
  const server = await connectMcpServer(backend, transport);
  process.stdin.once("end", () => void server.close());
  await closed;
}
