/**
 * Issue 14 item 7 on the stdio door: `baton mcp` (embedded, spawned for real, driven by the
 * SDK client) refuses an own `__proto__` key in tool arguments like any unknown key, and
 * issues nothing. test/mcp/tools.test.ts covers the Streamable HTTP door, every tool.
 *
 * The arguments are built with JSON.parse, so `__proto__` is an own key that the SDK client's
 * JSON.stringify sends (an object literal would set the prototype instead).
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Children, storeFlags } from "../helpers/cli-process.js";
import { ALICE, callOk, callRefused, connectStdio, type StdioSession } from "../helpers/mcp.js";

const children = new Children();
let dir: string;
let session: StdioSession;

beforeAll(async () => {
  dir = await children.tempDir();
  session = await connectStdio(children, [
    "--agent",
    "orchestrator",
    "--dev-user",
    ALICE,
    ...storeFlags(dir),
  ]);
}, 60_000);
afterAll(async () => {
  await session?.close();
  await children.cleanup();
});

async function issuedEvents(): Promise<number> {
  const audit = await readFile(join(dir, "audit.jsonl"), "utf8").catch(() => "");
  return audit
    .split("\n")
    .filter(Boolean)
    .filter((line) => JSON.parse(line).type === "exchange.issued").length;
}

describe("baton mcp on stdio: inputs are strict for every key", () => {
  it("request_token with an own __proto__ key: invalid_request with a hint, no token", async () => {
    const args = JSON.parse('{"api":"calendar","scopes":["calendar.read"],"__proto__":{"x":1}}');
    expect(Object.keys(args)).toContain("__proto__");
    const refusal = await callRefused(session.client, "request_token", args, "invalid_request");
    expect(refusal).toEqual({
      error: "invalid_request",
      error_description:
        "Input validation error: the arguments do not match the input schema of the tool",
      hint: expect.stringMatching(/^request_token takes only api, scopes, /),
    });
    // The control: the same call without the key is issued, and it is the only token issued.
    const ok = await callOk(session.client, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
    });
    expect(ok.access_token).toBeTypeOf("string");
    await expect.poll(issuedEvents, { timeout: 10_000 }).toBe(1);
  });
});
