/**
 * `baton policy explain` and the warnings of `baton policy check` (issue 8), spawned for real
 * on the demo policies: exit codes (0 issued, 2 refused, 1 bad input) and output lines.
 */

import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Children, runCli, TEST_POLICIES } from "../helpers/cli-process.js";

const children = new Children();
afterEach(() => children.stopAll());
afterAll(() => children.removeDirs());

const baton = (args: readonly string[], env: Record<string, string> = {}) =>
  runCli(children, args, { env });
const explain = (args: readonly string[]) => baton(["policy", "explain", ...args, TEST_POLICIES]);
const linesOf = (text: string) => text.trimEnd().split("\n");

describe("baton policy explain", () => {
  it("exits 0 with `issued after approval by` and each rule that decided", async () => {
    const result = await explain([
      "--agent",
      "orchestrator",
      "--api",
      "calendar",
      "--scope",
      "calendar.write",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(linesOf(result.stdout)).toEqual([
      "issued after approval by subject",
      "  agent orchestrator: enabled ✓",
      "  api calendar: aud https://calendar.example.com ✓",
      "  scope calendar.write: in API calendar ✓, in agent orchestrator's scopes ✓, elevated: approval by subject",
      "  act chain orchestrator (outermost first, 1 of max_depth 3) ✓",
      "  lifetime: 5m by default (default_ttl 5m), at most 10m (API calendar max_ttl 10m, broker max_ttl 1h)",
      "  assumes: the user's token bounds no scope and outlives the grant",
    ]);
  });

  it("exits 0 along a delegation inside a task (--via, --task)", async () => {
    const result = await explain([
      "--agent",
      "flight-booker",
      "--api",
      "https://flights.example.com",
      "--scope",
      "flights.search",
      "--via",
      "orchestrator",
      "--task",
      "book-trip",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const lines = linesOf(result.stdout);
    // book-trip asks its approval once, when it opens, even for a plain scope.
    expect(lines[0]).toBe("issued after approval by subject");
    expect(lines).toContain(
      "  task book-trip: opened by orchestrator, ceiling flights.search flights.book calendar.read ✓",
    );
    expect(lines).toContain(
      "  act chain flight-booker, orchestrator (outermost first, 2 of max_depth 3) ✓",
    );
  });

  it("exits 2 with `refused: <error> (<rule>)` and marks the refusing rule", async () => {
    const result = await explain([
      "--agent",
      "flight-booker",
      "--api",
      "calendar",
      "--scope",
      "calendar.read",
      "--via",
      "orchestrator",
    ]);
    expect(result.code).toBe(2);
    expect(linesOf(result.stdout)).toEqual([
      "refused: invalid_scope (narrow.scope.delegate)",
      "  agent orchestrator: enabled ✓",
      "  delegation orchestrator → flight-booker: flight-booker in orchestrator's delegate_to ✓, orchestrator's scopes hold calendar.read ✓, flight-booker's scopes lack calendar.read ✗, act chain flight-booker, orchestrator (2 of max_depth 3) ✓ ← narrow.scope.delegate",
      "  assumes: the user's token bounds no scope and outlives the grant; each delegator delegates exactly the scopes asked about",
    ]);
  });

  it("--json: the same explanation, machine-readable", async () => {
    const result = await explain([
      "--agent",
      "flight-booker",
      "--api",
      "flights",
      "--scope",
      "flights.search",
      "--via",
      "orchestrator",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.verdict).toEqual({ kind: "issued" });
    expect(parsed.grant).toEqual({
      agent: "flight-booker",
      api: "flights",
      resource: "https://flights.example.com",
      scopes: ["flights.search"],
      act: ["flight-booker", "orchestrator"],
      defaultTtl: 300,
      maxTtl: 900,
    });
  });

  it("--json on a refusal: exit 2, the error and the rule", async () => {
    const result = await explain([
      "--agent",
      "orchestrator",
      "--api",
      "payments",
      "--scope",
      "payments.charge",
      "--json",
    ]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).verdict).toEqual({
      kind: "refused",
      error: "invalid_scope",
      rule: "narrow.scope.agent",
    });
  });

  it("exits 1 with a clear message for an agent the policy does not define", async () => {
    const result = await explain([
      "--agent",
      "nobody",
      "--api",
      "calendar",
      "--scope",
      "calendar.read",
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      'baton policy explain: unknown agent "nobody" (known: orchestrator, flight-booker, calendar-api, flights-api)\n',
    );
  });

  it("exits 1 with a clear message for an API the policy does not define", async () => {
    const result = await explain([
      "--agent",
      "orchestrator",
      "--api",
      "mail",
      "--scope",
      "mail.send",
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      'baton policy explain: unknown API "mail" (known: calendar, flights, payments)\n',
    );
  });

  const bare = [
    "policy",
    "explain",
    "--agent",
    "orchestrator",
    "--api",
    "flights",
    "--scope",
    "flights.search",
  ];

  it("reads --policies when no directory is given", async () => {
    const result = await baton([...bare, "--policies", TEST_POLICIES]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesOf(result.stdout)[0]).toBe("issued");
  });

  it("reads BATON_POLICIES when neither is given", async () => {
    const result = await baton(bare, { BATON_POLICIES: TEST_POLICIES });
    expect(result.code, result.stderr).toBe(0);
    expect(linesOf(result.stdout)[0]).toBe("issued");
  });
});

const WARNING =
  "warning: agents.yaml: agents.orchestrator.impersonate: orchestrator may impersonate and holds elevated scopes calendar.write, flights.book: on a user's own token its tokens carry no act, so neither the approver nor the API can tell the agent from the user (RFC 8693 §1.1)";

describe("baton policy check: warnings (issue 8)", () => {
  it("prints no warning for the demo: its task approval names every agent it covers", async () => {
    const result = await baton(["policy", "check", TEST_POLICIES]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/policies\/: OK \(4 files, 3 APIs, 5 scopes, 4 agents/);
    expect(result.stderr).toBe("");
  });

  it("prints `warning: file: path: message` lines on stderr after the OK line, exit 0", async () => {
    // The demo with one risky change: an impersonating agent that holds elevated scopes.
    const dir = await children.tempDir("baton-warn-");
    await cp(TEST_POLICIES, dir, { recursive: true });
    const agents = join(dir, "agents.yaml");
    const yaml = await readFile(agents, "utf8");
    await writeFile(
      agents,
      yaml.replace("  orchestrator:\n", "  orchestrator:\n    impersonate: true\n"),
    );
    const result = await baton(["policy", "check", dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/: OK \(4 files, 3 APIs, 5 scopes, 4 agents/);
    expect(linesOf(result.stderr)).toEqual([WARNING]);
  });
});
