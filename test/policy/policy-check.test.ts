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
  it("exits 0 with a one-line summary for the demo policies", async () => {
    const { lines, out } = capture();
    expect(await policyCheck("policies", out)).toBe(0);
    expect(lines.log).toEqual([
      "policies/: OK (4 files, 3 APIs, 7 scopes, 4 agents, 1 task template, 1 approver group)",
    ]);
    // Warnings (issue 8, policy/escalation.ts) never change the exit code; the demo's are
    // intended: payment scopes no demo agent uses, and book-trip's one approval covering
    // flight-booker's booking.
    expect(lines.error.map((l) => l.replace(/^(warning: [^:]+: [^:]+):.*$/, "$1"))).toEqual([
      "warning: agents.yaml: agents.flight-booker.scopes[1]",
      'warning: apis.yaml: apis.payments.scopes["payments.read"]',
      'warning: apis.yaml: apis.payments.scopes["payments.refund"]',
    ]);
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
