/**
 * A real third-party MCP client against `baton mcp` on stdio (issue 3, "done when"): the MCP
 * Inspector CLI (`@modelcontextprotocol/inspector-cli`, a devDependency) spawns the real CLI
 * (`bin/baton.js mcp …` on the fresh build, as a user runs it),
 * lists the tools and calls request_token. Its JSON stdout is what the test reads.
 */

import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  Children,
  CLI,
  type CliResult,
  cliEnv,
  collect,
  TEST_POLICIES as POLICIES,
  ROOT,
} from "../helpers/cli-process.js";

const INSPECTOR = join(ROOT, "node_modules/.bin/mcp-inspector-cli");
const ALICE = "alice@example.com";
/**
 * inspector-cli 1.0.3 finds its own package.json by testing `../package.json` against the
 * working directory but importing it relative to its module: it starts only where
 * `../package.json` exists. test/ is such a place (its parent is the project root).
 */
const INSPECTOR_CWD = join(ROOT, "test");

let dir: string;
const children = new Children();

beforeAll(async () => {
  dir = await children.tempDir("baton-inspector-");
});
afterEach(async () => {
  // The inspector spawns its CLI, which spawns baton: a test that timed out leaves a process
  // group behind. Each inspector runs in its own group, ended here by its leader's pid.
  await children.stopAll();
});
afterAll(() => children.removeDirs());

/** `mcp-inspector-cli --cli <baton mcp …> <method args>`, run to completion. */
function inspect(methodArgs: readonly string[]): Promise<CliResult> {
  const baton = [
    process.execPath,
    CLI,
    "mcp",
    "--agent",
    "orchestrator",
    "--dev-user",
    ALICE,
    "--policies",
    POLICIES,
    "--store",
    `sqlite://${dir}/b.db`,
    "--audit",
    join(dir, "a.jsonl"),
  ];
  const child = spawn(process.execPath, [INSPECTOR, "--cli", ...baton, ...methodArgs], {
    cwd: INSPECTOR_CWD,
    env: cliEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.track(child, { group: true });
  return collect(child);
}

/** The inspector's JSON result; fails with its stderr when it did not succeed. */
function resultOf(run: CliResult): any {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

async function auditEvents(): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, "a.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe("the MCP Inspector CLI against `baton mcp` (stdio)", () => {
  it("tools/list: the tools, with strict input schemas and output schemas", async () => {
    const { tools } = resultOf(await inspect(["--method", "tools/list"]));
    expect(tools.map((t: { name: string }) => t.name).sort()).toEqual([
      "approval_status",
      "delegate",
      "end_task",
      "list_apis",
      "request_token",
      "revoke_token",
      "start_task",
      "whoami",
    ]);
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTypeOf("string");
      expect(tool.description, tool.name).toBeTypeOf("string");
      expect(tool.annotations?.readOnlyHint, tool.name).toBeTypeOf("boolean");
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
      expect(tool.outputSchema?.type, tool.name).toBe("object");
    }
  }, 60_000);

  it("tools/call request_token: an access token for calendar whose act is orchestrator", async () => {
    const result = resultOf(
      await inspect([
        "--method",
        "tools/call",
        "--tool-name",
        "request_token",
        "--tool-arg",
        "api=calendar",
        'scopes=["calendar.read"]',
      ]),
    );
    expect(result.isError).not.toBe(true);
    const out = result.structuredContent;
    expect(out).toMatchObject({
      token_type: "Bearer",
      scope: "calendar.read",
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
    });
    // Design §3.5: the text content is a one-line summary plus the token, not a second copy.
    expect(result.content[0].text.split("\n")).toEqual([
      expect.stringMatching(/^Access token for calendar: calendar\.read, expires in \d+ s\.$/),
      out.access_token,
    ]);

    const claims = decodeJwt(out.access_token);
    expect(claims).toMatchObject({
      sub: ALICE,
      aud: "https://calendar.example.com",
      client_id: "orchestrator",
      scope: "calendar.read",
      act: { sub: "orchestrator" },
    });
    expect(out.expires_in).toBe((claims.exp as number) - (claims.iat as number));

    // The embedded broker audited the exchange in the audit file it was given.
    const issued = (await auditEvents()).filter((e) => e.type === "exchange.issued");
    expect(issued.at(-1)).toMatchObject({
      agent: "orchestrator",
      subject: ALICE,
      chain: ["orchestrator"],
      jti: claims.jti,
    });
  }, 60_000);

  it("tools/call with an identity argument: refused, nothing issued", async () => {
    const before = (await auditEvents()).filter((e) => e.type === "exchange.issued").length;
    const run = await inspect([
      "--method",
      "tools/call",
      "--tool-name",
      "request_token",
      "--tool-arg",
      "api=calendar",
      'scopes=["calendar.read"]',
      "agent=flight-booker",
    ]);
    const result = resultOf(run);
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/Input validation error/);
    expect(run.stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
    const after = (await auditEvents()).filter((e) => e.type === "exchange.issued").length;
    expect(after).toBe(before);
  }, 60_000);
});
