/**
 * One MCP server per session, bound to one session (and so to one agent and one user): the
 * identity never comes from tool arguments (design §3.5).
 *
 * @module mcp/server
 */

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { elicitingSession } from "./elicit.js";
import { toolRefusal, toolResult } from "./result.js";
import type { Session } from "./session.js";
import { guardToolInput } from "./strict-input.js";
import { TOOLS } from "./tools/index.js";
import { withRefusal } from "./tools/schemas.js";

/** One validator for every session: building one per server is the SDK's hot spot. */
const validator = new AjvJsonSchemaValidator();

export const SERVER_INFO = {
  name: "baton",
  title: "Baton delegation broker",
  version: "0.1.0",
} as const;

// Issue 16: three sentences, one each for tasks, delegation and approvals; whoami says the rest.
const INSTRUCTIONS =
  "Call whoami first, and open a task with start_task when the work takes several tokens or sub-agents, " +
  "then pass its task_id to request_token and delegate. To delegate, call delegate and hand the " +
  "sub-agent the delegation token: it passes it as subject_token on each call, and the task comes with " +
  "it. An elevated scope returns approval_required: show approve_url to the user (or follow the hint), " +
  "poll approval_status, then repeat the call with approval_id; nothing you write approves it.";

export function createMcpServer(session: Session): McpServer {
  const server = new McpServer(SERVER_INFO, {
    instructions: INSTRUCTIONS,
    jsonSchemaValidator: validator,
  });
  const human = elicitingSession(server);
  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: withRefusal(tool.outputSchema),
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (input: Record<string, unknown>) => {
        try {
          return toolResult(await tool.run(session, input, human));
        } catch (err) {
          // The hint comes from the refusal's own cause: no further call to the broker.
          return toolRefusal(err, { tool: tool.name, ...tool.refusalContext?.(input) });
        }
      },
    );
  }
  return server;
}

/**
 * A server for `session`, connected to `transport` behind the strict input check
 * (`strict-input.ts`): both doors, stdio and Streamable HTTP, connect through here.
 */
export async function connectMcpServer(session: Session, transport: Transport): Promise<McpServer> {
  const server = createMcpServer(session);
  await server.connect(guardToolInput(transport));
  return server;
}
