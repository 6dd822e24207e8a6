/** `baton policy check`: exit codes and output lines. */
import { rm } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { policyCheck } from "../../src/cli/policy-check.js";
import { tempPolicyDir } from "./fixtures.js";

function capture() {
  const lines = { log: [] as string[], error: [] as string[] };
  return {
    lines,
    out: { log: (l: string) => lines.log.push(l), error: (l: string) => lines.error.push(l) },
  };
}

describe("policyCheck", () => {
  it("exits 0 with a one-line summary for the shipped demo policies", async () => {
    // The one test that reads the repository's policies/ (issue 17): the demo is valid and
    // draws no warning. flight-booker books under book-trip's one approval, which now names it
    // (a task's approval names every agent it covers), so nothing is hidden from the approver.
    const { lines, out } = capture();
    expect(await policyCheck("policies", out)).toBe(0);
    expect(lines.log).toEqual([
      "policies/: OK (4 files, 3 APIs, 5 scopes, 4 agents, 1 task template, 1 approver group)",
    ]);
    expect(lines.error).toEqual([]);
  });

  it("reports a key typo and an unknown scope in one run, as file: path: message", async () => {
    const dir = await tempPolicyDir({
      "apis.yaml":
        "apis:\n  mail:\n    resource: https://mail.example.com\n    scopes: { mail.send: Send }\n",
      "a.yaml": `agents:\n  bot:\n    secret_sha256: ${"d".repeat(64)}\n    scoeps: [mail.send]\n    scopes: [mail.send]\n`,
      "b.yaml": `agents:\n  helper:\n    secret_sha256: ${"e".repeat(64)}\n    scopes: [mail.sned]\n`,
    });
    try {
      const { lines, out } = capture();
      expect(await policyCheck(dir, out)).toBe(1);
      expect(lines.error).toEqual([
        "a.yaml: agents.bot.scoeps: unknown key; expected one of: description, secret_sha256, jwks, scopes, delegate_to, impersonate, disabled, delegated_only, rate_limit, introspects",
        'b.yaml: agents.helper.scopes[0]: unknown scope "mail.sned": no API defines it',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 with one file: path: message line per problem", async () => {
    const dir = await tempPolicyDir({
      "agents.yaml": `agents:\n  bot:\n    secret_sha256: ${"d".repeat(64)}\n    scopes: [mail.send]\n    delegate_to: [bot]\n`,
      "broker.yaml": "broker:\n  max_depth: 3\n",
    });
    try {
      const { lines, out } = capture();
      expect(await policyCheck(dir, out)).toBe(1);
      expect(lines).toEqual({
        log: [],
        error: [
          'agents.yaml: agents.bot.scopes[0]: unknown scope "mail.send": no API defines it',
          "agents.yaml: agents.bot.delegate_to[0]: an agent cannot delegate to itself",
        ],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 when the directory is missing", async () => {
    const { lines, out } = capture();
    expect(await policyCheck("does-not-exist", out)).toBe(1);
    expect(lines.error).toEqual(["does-not-exist: no such directory"]);
  });
});
