/**
 * Issue 20 item 2, the OpenAI Agents SDK (`@openai/agents`): Baton's tools as the SDK converts
 * them (`getAllMcpTools`), over stdio and Streamable HTTP, run through the SDK's own path, the
 * function tool's `invoke` (its input parser, then the MCP call). The model sees the text
 * content: the token line for `request_token`, and a refusal as plain text, never thrown.
 *
 * Strict mode (`convertSchemasToStrict`): every tool is accepted (the SDK falls back to a
 * non-strict tool, with a warning, when it cannot convert one), with the same property names and
 * required fields, each optional field made required and nullable, as OpenAI's strict function
 * schemas want; the model then sends null for "not given", which Baton takes as absent. In the
 * default mode the SDK opens every tool's input (additionalProperties true).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectCalendarToken,
  expectRefusal,
  expectWhoamiInFull,
  frameworkEndpoints,
  GRANTED,
  load,
  REFUSED,
  TOOL_NAMES,
} from "./harness.js";

const { skip: SKIP, ends } = frameworkEndpoints("OpenAI Agents SDK interop");

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: unknown;
  anyOf?: JsonSchema[];
}

const nullable = (schema: JsonSchema | undefined): boolean =>
  schema?.type === "null" ||
  (Array.isArray(schema?.type) && schema.type.includes("null")) ||
  (schema?.anyOf ?? []).some(nullable);

describe.skipIf(SKIP).each(["stdio", "http"] as const)("OpenAI Agents SDK over %s", (transport) => {
  let agents: any;
  let server: any;
  let mcpTools: { name: string; inputSchema: JsonSchema }[];
  let strict: any[];
  let secrets: string[];

  beforeAll(async () => {
    agents = await load("@openai/agents");
    if (transport === "stdio") {
      server = new agents.MCPServerStdio({
        name: "baton",
        clientSessionTimeoutSeconds: 30,
        ...ends().stdio,
      });
      secrets = [];
    } else {
      const headers = { Authorization: `Bearer ${ends().http.token}` };
      server = new agents.MCPServerStreamableHttp({
        name: "baton",
        url: ends().http.url,
        requestInit: { headers },
      });
      secrets = [ends().http.token];
    }
    await server.connect();
    mcpTools = await server.listTools();
    strict = await agents.getAllMcpTools({ mcpServers: [server], convertSchemasToStrict: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** What the model is shown of one call: the tool's `invoke` output, as text. */
  async function seen(name: string, input: object): Promise<string> {
    const tool = strict.find((t) => t.name === name);
    const output = await tool.invoke(new agents.RunContext({}), JSON.stringify(input));
    expect(output).toMatchObject({ type: "text" });
    return output.text;
  }

  it("strict mode accepts all 8 tools, each unaltered in meaning", () => {
    expect(strict.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
    for (const tool of strict) {
      const original = mcpTools.find((t) => t.name === tool.name)?.inputSchema as JsonSchema;
      const converted = tool.parameters as JsonSchema;
      expect(tool.strict, tool.name).toBe(true);
      expect(converted.additionalProperties, tool.name).toBe(false);
      const names = Object.keys(original.properties ?? {});
      expect(Object.keys(converted.properties ?? {}).sort(), tool.name).toEqual(names.sort());
      // Every field is required in strict mode; the optional ones accept null.
      expect([...(converted.required ?? [])].sort(), tool.name).toEqual([...names].sort());
      for (const name of names) {
        const optional = !(original.required ?? []).includes(name);
        const field = converted.properties?.[name] as JsonSchema;
        expect(nullable(field), `${tool.name}.${name}`).toBe(optional);
        // The same type and bounds as Baton publishes: only `null` added beside them.
        const value = optional ? field.anyOf?.find((branch) => branch.type !== "null") : field;
        expect(value, `${tool.name}.${name}`).toEqual(original.properties?.[name]);
      }
    }
  });

  it("the default (non-strict) mode opens every tool's input", async () => {
    const loose = await agents.getAllMcpTools({ mcpServers: [server] });
    expect(loose.map((t: any) => t.name).sort()).toEqual(TOOL_NAMES);
    for (const tool of loose) {
      expect(tool.strict, tool.name).toBe(false);
      expect(tool.parameters.additionalProperties, tool.name).toBe(true);
    }
  });

  it("whoami: the model sees the whole answer as text", async () => {
    expectWhoamiInFull(await seen("whoami", { subject_token: null, task_id: null }));
  });

  it("request_token, as a strict model sends it (null for every optional field)", async () => {
    const input = {
      ...GRANTED,
      task_id: null,
      ttl_seconds: null,
      reason: null,
      subject_token: null,
      approval_id: null,
    };
    const { token } = expectCalendarToken(await seen("request_token", input));
    secrets.push(token);
  });

  // Over HTTP only: a second `baton mcp` process would show nothing more.
  if (transport === "http") {
    it("useStructuredContent: the model sees the result as JSON instead", async () => {
      const structured = new agents.MCPServerStreamableHttp({
        name: "baton",
        url: ends().http.url,
        requestInit: { headers: { Authorization: `Bearer ${ends().http.token}` } },
        useStructuredContent: true,
      });
      await structured.connect();
      try {
        const tools = await agents.getAllMcpTools({
          mcpServers: [structured],
          convertSchemasToStrict: true,
        });
        const whoami = tools.find((t: any) => t.name === "whoami");
        const output = await whoami.invoke(new agents.RunContext({}), "{}");
        expect(JSON.parse(output)).toMatchObject({
          agent: "orchestrator",
          apis: expect.arrayContaining([expect.objectContaining({ id: "calendar" })]),
        });
      } finally {
        await structured.close();
      }
    });
  }

  it("a refusal reaches the model as plain text with the hint, never thrown", async () => {
    expectRefusal(await seen("request_token", REFUSED), secrets);
  });
});
