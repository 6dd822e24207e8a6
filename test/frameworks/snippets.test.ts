/**
 * Issue 20 item 5: the README's "Use it from your agent framework" snippets, one file each in
 * snippets/, run as they are (`node snippets/<framework>.mjs`) against `/mcp` of a broker, with
 * BATON_ISSUER and BATON_TOKEN set as the README says. Each prints the tools it was given.
 */

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { Children, collect, spawnNode } from "../helpers/cli-process.js";
import { ALICE, skipping, TOOL_NAMES, WORKSPACE } from "./harness.js";

const SKIP = skipping("framework snippets");
const children = new Children();
let broker: TestBroker;
let env: Record<string, string>;

beforeAll(async () => {
  if (SKIP) return;
  broker = await startTestBroker();
  const token = await broker.devToken(ALICE, { agent: "orchestrator" });
  env = { BATON_ISSUER: broker.url, BATON_TOKEN: token };
});
afterAll(async () => {
  await broker?.close();
  await children.cleanup();
});

describe.skipIf(SKIP)("the README's framework snippets, as they are", () => {
  it.each([
    ["vercel", ""],
    ["openai", ""],
    ["langchain", ""],
    ["mastra", "baton_"],
  ])("snippets/%s.mjs connects and lists the 8 tools", async (name, prefix) => {
    const run = await collect(
      spawnNode(children, [join(WORKSPACE, "snippets", `${name}.mjs`)], { env }),
    );
    expect(run.code, run.stderr).toBe(0);
    for (const tool of TOOL_NAMES) expect(run.stdout).toContain(`'${prefix}${tool}'`);
    expect(run.stdout).not.toContain(env.BATON_TOKEN);
  });
});
