/**
 * The MCP ceiling: one trivial `echo` tool on the stack Baton's `/mcp` is built on (same SDK,
 * hono + @hono/node-server, the web-standard Streamable HTTP transport with stateful
 * sessions and the same options, one shared Ajv validator, zod input and output schemas,
 * `structuredContent` plus the same JSON as text). What it leaves out is Baton's own work:
 * the bearer token check and the exchange behind the tool.
 *
 * Usage: node --import tsx bench/servers/echo-mcp.ts PORT
 */

import { randomBytes } from "node:crypto";
import { serve } from "@hono/node-server";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { Hono } from "hono";
import { z } from "zod";

const port = Number(process.argv[2]);
const validator = new AjvJsonSchemaValidator();
const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();

function echoServer(): McpServer {
  const server = new McpServer(
    { name: "echo", version: "0.0.0" },
    { instructions: "Echoes its input.", jsonSchemaValidator: validator },
  );
  server.registerTool(
    "echo",
    {
      title: "Echo",
      description: "Returns its input.",
      inputSchema: z.object({ text: z.string().max(2048) }).strict(),
      outputSchema: z.object({ text: z.string() }),
      annotations: { readOnlyHint: true },
    },
    async ({ text }: { text: string }) => {
      const out = { text };
      return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
    },
  );
  return server;
}

async function handle(request: Request): Promise<Response> {
  const sessionId = request.headers.get("mcp-session-id");
  if (sessionId !== null) {
    const transport = sessions.get(sessionId);
    if (!transport) return new Response("session not found", { status: 404 });
    return transport.handleRequest(request);
  }
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => randomBytes(16).toString("base64url"),
    maxRequestBodySize: 256 * 1024,
    onsessioninitialized: (id) => {
      sessions.set(id, transport);
    },
    onsessionclosed: (id) => {
      sessions.delete(id);
    },
  });
  await echoServer().connect(transport);
  const response = await transport.handleRequest(request);
  if (transport.sessionId === undefined) await transport.close();
  return response;
}

const app = new Hono();
app.all("/mcp", (c) => handle(c.req.raw));
app.get("/healthz", (c) => c.json({ status: "ok" }));
serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
