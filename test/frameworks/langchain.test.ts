/**
 * Issue 20 item 2, LangChain (`@langchain/mcp-adapters`): Baton's tools as the adapters convert
 * them (`MultiServerMCPClient.getTools`), over stdio and Streamable HTTP, run through LangChain's
 * own path, a tool's `invoke` with a tool call, which makes the ToolMessage the model is shown.
 * A successful result shows twice in it: the text content, and `structuredContent` beside it
 * (so the token appears twice). A refusal is thrown, a `ToolException` whose message carries
 * the code and the hint (an agent's tool node turns it into an error ToolMessage).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectCalendarToken,
  expectRefusal,
  frameworkEndpoints,
  GRANTED,
  load,
  REFUSED,
  TOOL_NAMES,
  WHOAMI_LINE,
} from "./harness.js";

const { skip: SKIP, ends } = frameworkEndpoints("LangChain interop");

describe.skipIf(SKIP).each(["stdio", "http"] as const)("LangChain over %s", (transport) => {
  let client: any;
  let tools: any[];
  let secrets: string[];

  beforeAll(async () => {
    const { MultiServerMCPClient } = await load("@langchain/mcp-adapters");
    const baton =
      transport === "stdio"
        ? { transport: "stdio", ...ends().stdio }
        : {
            transport: "http",
            url: ends().http.url,
            headers: { Authorization: `Bearer ${ends().http.token}` },
          };
    secrets = transport === "http" ? [ends().http.token] : [];
    client = new MultiServerMCPClient({ mcpServers: { baton } });
    tools = await client.getTools();
  });
  afterAll(async () => {
    await client?.close();
  });

  /** The ToolMessage the model is shown of one tool call, and its content parsed. */
  async function seen(name: string, args: object) {
    const tool = tools.find((t) => t.name === name);
    const message = await tool.invoke({ type: "tool_call", id: "call-1", name, args });
    expect(message.status).toBe("success");
    expect(message.tool_call_id).toBe("call-1");
    expect(message.content).toBeTypeOf("string");
    return { content: message.content as string, parsed: JSON.parse(message.content) };
  }

  it("converts the 8 tools", () => {
    expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
  });

  it("whoami: the model sees the summary and the whole result beside it", async () => {
    const { parsed } = await seen("whoami", {});
    expect(parsed.text).toContain(WHOAMI_LINE);
    expect(parsed.structuredContent).toMatchObject({
      agent: "orchestrator",
      chain: ["orchestrator"],
    });
  });

  it("request_token: the token line, and the token again in structuredContent", async () => {
    const { parsed } = await seen("request_token", GRANTED);
    const { token } = expectCalendarToken(parsed.text);
    expect(parsed.structuredContent).toMatchObject({ access_token: token, scope: "calendar.read" });
    secrets.push(token);
  });

  it("a refusal is thrown, a ToolException carrying the code and the hint", async () => {
    const tool = tools.find((t) => t.name === "request_token");
    const call = { type: "tool_call", id: "call-2", name: "request_token", args: REFUSED };
    const error = await tool.invoke(call).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.name).toBe("ToolException");
    expectRefusal(error?.message ?? "", secrets);
  });
});
