/**
 * Issue 20 item 2, the Vercel AI SDK (`ai` + `@ai-sdk/mcp`): Baton's tools as the SDK converts
 * them, over stdio and Streamable HTTP, run through the SDK's own path, a tool's `execute` and
 * then its `toModelOutput` (what the model is shown). The model sees the text content only:
 * the token line for `request_token`, and a refusal as plain text (code and hint), not thrown.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALICE,
  expectCalendarToken,
  expectRefusal,
  expectWhoamiInFull,
  frameworkEndpoints,
  GRANTED,
  load,
  REFUSED,
  TOOL_NAMES,
} from "./harness.js";

const { skip: SKIP, ends } = frameworkEndpoints("Vercel AI SDK interop");

/** What the model is shown of one call: `toModelOutput` of what `execute` returned, as text. */
async function seen(tools: Record<string, any>, name: string, input: object): Promise<string> {
  const tool = tools[name];
  const output = await tool.execute(input, { toolCallId: "call-1", messages: [] });
  const shown = await tool.toModelOutput({ toolCallId: "call-1", input, output });
  expect(shown.type).toBe("content");
  return shown.value.map((part: { type: string; text: string }) => part.text).join("\n");
}

describe.skipIf(SKIP).each(["stdio", "http"] as const)("Vercel AI SDK over %s", (transport) => {
  let client: any;
  let tools: Record<string, any>;
  let secrets: string[];

  beforeAll(async () => {
    const { createMCPClient } = await load("@ai-sdk/mcp");
    if (transport === "stdio") {
      const { Experimental_StdioMCPTransport } = await load("@ai-sdk/mcp/mcp-stdio");
      client = await createMCPClient({
        transport: new Experimental_StdioMCPTransport(ends().stdio),
      });
      secrets = [];
    } else {
      const headers = { Authorization: `Bearer ${ends().http.token}` };
      client = await createMCPClient({
        transport: { type: "http", url: ends().http.url, headers },
      });
      secrets = [ends().http.token];
    }
    tools = await client.tools();
  });
  afterAll(async () => {
    await client?.close();
  });

  it("converts the 8 tools, each with its input schema closed", () => {
    expect(Object.keys(tools).sort()).toEqual(TOOL_NAMES);
    for (const tool of Object.values(tools)) {
      expect(tool.inputSchema.jsonSchema).toMatchObject({
        type: "object",
        additionalProperties: false,
      });
    }
  });

  it("whoami: the model sees the whole answer as text (the AI SDK shows no structuredContent)", async () => {
    const text = await seen(tools, "whoami", {});
    expectWhoamiInFull(text);
    expect(text).toContain(ALICE);
  });

  it("request_token: the model sees the token line and the token", async () => {
    const { token } = expectCalendarToken(await seen(tools, "request_token", GRANTED));
    secrets.push(token);
  });

  it("a refusal reaches the model as plain text with the hint, never thrown", async () => {
    expectRefusal(await seen(tools, "request_token", REFUSED), secrets);
  });
});
