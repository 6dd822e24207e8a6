/**
 * Issue 20 item 2, Mastra (`@mastra/mcp`): Baton's tools as Mastra converts them
 * (`MCPClient.listTools`, each named `<server>_<tool>`), over stdio and Streamable HTTP, run
 * through Mastra's own path, a tool's `execute` and then its `toModelOutput`. A result's
 * `execute` value is the structured content; the model is shown the text content (the token
 * line for `request_token`). A refusal is thrown, a MastraError whose message is the refusal's
 * text, code and hint.
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

const { skip: SKIP, ends } = frameworkEndpoints("Mastra interop");

describe.skipIf(SKIP).each(["stdio", "http"] as const)("Mastra over %s", (transport) => {
  let client: any;
  let tools: Record<string, any>;
  let secrets: string[];

  beforeAll(async () => {
    const { MCPClient } = await load("@mastra/mcp");
    const baton =
      transport === "stdio"
        ? ends().stdio
        : {
            url: new URL(ends().http.url),
            requestInit: { headers: { Authorization: `Bearer ${ends().http.token}` } },
          };
    secrets = transport === "http" ? [ends().http.token] : [];
    client = new MCPClient({ id: `baton-${transport}`, servers: { baton } });
    tools = await client.listTools();
  });
  afterAll(async () => {
    await client?.disconnect();
  });

  /** The structured result `execute` returns, and the text `toModelOutput` shows the model. */
  async function seen(name: string, input: object) {
    const tool = tools[`baton_${name}`];
    const output = await tool.execute(input, {});
    const shown = await tool.toModelOutput(output);
    expect(shown.type).toBe("text");
    return { output, text: shown.value as string };
  }

  it("converts the 8 tools, named baton_<tool>", () => {
    expect(Object.keys(tools).sort()).toEqual(TOOL_NAMES.map((name) => `baton_${name}`));
  });

  it("whoami: the model sees the whole answer as text; execute returns the structured result", async () => {
    const { output, text } = await seen("whoami", {});
    expectWhoamiInFull(text);
    expect(output).toMatchObject({ agent: "orchestrator", chain: ["orchestrator"] });
  });

  it("request_token: the model sees the token line and the token", async () => {
    const { output, text } = await seen("request_token", GRANTED);
    const { token } = expectCalendarToken(text);
    expect(output).toMatchObject({ access_token: token, scope: "calendar.read" });
    secrets.push(token);
  });

  it("a refusal is thrown, a MastraError carrying the code and the hint", async () => {
    const error = await tools.baton_request_token.execute(REFUSED, {}).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.constructor.name).toBe("MastraError");
    expect(error).toMatchObject({ id: "MCP_CLIENT_TOOL_EXECUTION_FAILED" });
    expectRefusal(error?.message ?? "", secrets);
  });
});
