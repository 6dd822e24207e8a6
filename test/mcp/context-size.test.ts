/**
 * Issue 16 item 5, design §3.5: lean in the model's context. What an MCP client receives, read
 * with the SDK client from the real server over Streamable HTTP: the whole `tools/list` stays
 * under 9,000 characters (JSON of the tools array), and a result's text is a one-line summary
 * plus the token, not a second copy of `structuredContent`. The sizes are printed.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS } from "../../src/mcp/tools/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callOk, callTool, connectHttp } from "../helpers/mcp.js";

const TOOLS_LIST_LIMIT = 9_000;

let broker: TestBroker;
let client: Client;
let tools: Tool[];

beforeAll(async () => {
  broker = await startTestBroker();
  client = await connectHttp(broker.url, await broker.devToken(ALICE, { agent: "orchestrator" }));
  ({ tools } = await client.listTools());
}, 60_000);

afterAll(async () => {
  await client?.close();
  await broker?.close();
});

const size = (value: unknown) => JSON.stringify(value).length;

/** The text content of a tool call and the sizes a model pays for it. */
async function measured(name: string, args: Record<string, unknown>) {
  const outcome = await callTool(client, name, args);
  const sizes = { text: outcome.text.length, structuredContent: size(outcome.out) };
  console.log(`${name} result: ${JSON.stringify(sizes)}`);
  return { ...outcome, sizes };
}

describe("tools/list", () => {
  it(`is at most ${TOOLS_LIST_LIMIT} characters, every tool described`, () => {
    const perTool = Object.fromEntries(tools.map((t) => [t.name, size(t)]));
    console.log(`tools/list: ${size(tools)} characters`, perTool);
    expect(size(tools)).toBeLessThanOrEqual(TOOLS_LIST_LIMIT);
    for (const tool of tools) {
      expect(tool.description?.length ?? 0, tool.name).toBeGreaterThan(100);
      // Published without zod's draft-07 `$schema`: MCP 2025-11-25 defaults to 2020-12.
      expect(tool.inputSchema).not.toHaveProperty("$schema");
      expect(tool.outputSchema).not.toHaveProperty("$schema");
    }
  });

  it("says the defaults: token 300 s, task 3600 s, 1000 tokens per task", () => {
    const text = JSON.stringify(tools);
    expect(text).toContain("Default 300");
    expect(text).toContain("Default 3600");
    expect(text).toContain("Default 1000");
  });

  it("describes a refusal's shape in no output schema: an isError result still validates", async () => {
    for (const tool of tools) {
      expect(JSON.stringify(tool.outputSchema), tool.name).not.toContain("error_description");
    }
    // The SDK client validates structuredContent against the output schema even on isError.
    const refused = await callTool(client, "request_token", { api: "nowhere", scopes: ["x.read"] });
    expect(refused.isError).toBe(true);
    expect(Object.keys(refused.out).sort()).toEqual(["error", "error_description", "hint"]);
  });
});

describe("a result's text", () => {
  it("request_token: one line, then the token; the structure is the tool's full shape", async () => {
    const out = await measured("request_token", { api: "calendar", scopes: ["calendar.read"] });
    expect(out.isError).toBe(false);
    const lines = out.text.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Access token for calendar: calendar\.read, expires in \d+ s\.$/);
    expect(lines[1]).toBe(out.out.access_token);
    expect(out.text).not.toContain("{");
    const tool = TOOLS.find((t) => t.name === "request_token");
    expect(tool?.outputSchema.strict().safeParse(out.out).success).toBe(true);
  });

  it("every other result is one line, with no JSON copy of the structure (but the discovery answers)", async () => {
    const task = await callOk(client, "start_task", {
      purpose: "Measure results",
      scopes: ["calendar.read"],
    });
    const calls: [string, Record<string, unknown>][] = [
      ["start_task", { purpose: "Measure a task", scopes: ["calendar.read"] }],
      ["delegate", { to_agent: "flight-booker", scopes: ["flights.search"] }],
      ["revoke_token", { token: "garbage" }],
      ["end_task", { task_id: task.task_id }],
    ];
    for (const [name, args] of calls) {
      const out = await measured(name, args);
      expect(out.isError, out.text).toBe(false);
      const [line, token, ...rest] = out.text.split("\n");
      expect(rest, name).toEqual([]);
      expect(line, name).not.toMatch(/^\{/);
      if (token !== undefined) expect(token, name).toBe(out.out.delegation_token);
    }
  });

  it("whoami and list_apis: the line, then the result in full, for clients that show text alone", async () => {
    // MCP "Structured content": a tool that returns it SHOULD also return it serialized as text.
    // The discovery answers do; a line cannot carry them, and several frameworks show the model
    // the text alone (test/frameworks).
    for (const name of ["whoami", "list_apis"]) {
      const out = await measured(name, {});
      expect(out.isError, out.text).toBe(false);
      const [line, json, ...rest] = out.text.split("\n");
      expect(rest, name).toEqual([]);
      expect(line, name).toMatch(/ In full:$/);
      expect(JSON.parse(json as string), name).toEqual(out.out);
    }
  });

  it("revoke_token of a non-token says revoked: false", async () => {
    const out = await measured("revoke_token", { token: "garbage" });
    expect(out.out.revoked).toBe(false);
    expect(out.text).toMatch(/^Not revoked\./);
  });
});
