/**
 * `--audit-sync` / BATON_AUDIT_SYNC=1 (issue 14 item 13), on the real command line: a token
 * leaves only once its audit line is fsynced, so a power loss right after a response cannot
 * lose the record of the token it carried.
 *
 * - `baton serve --audit-sync` (and BATON_AUDIT_SYNC=1) on a SQLite store and a temp audit
 *   file issues tokens over HTTP, each token's line in the file when its response arrives.
 * - The fsync is on the way out, not beside it: with the audit log in a named pipe (writes
 *   succeed, fsync fails with EINVAL), every exchange is refused with 503 and no token, and the
 *   node reports itself unready. Without the flag the same pipe issues tokens
 *   (test/ops/audit-written.test.ts).
 * - `baton mcp --audit-sync` (embedded) does the same for `request_token`.
 * - `--audit-sync` with `--audit stderr`, from the flag or the env, is refused at start (exit 1)
 *   with a message that names the setting; so is a BATON_AUDIT_SYNC that is not 1 or 0.
 */

import { execFileSync, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Children, runBaton, runCli, startServe, storeFlags } from "../helpers/cli-process.js";
import { ALICE, callOk, connectStdio } from "../helpers/mcp.js";
import { exchange, expectRefusal, issued, jtiOf, readCalendar, until } from "../helpers/nodes.js";

const children = new Children();
afterAll(() => children.cleanup());

/** The `exchange.issued` lines of an audit file. */
async function issuedJtis(file: string): Promise<string[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string; jti?: string })
    .filter((e) => e.type === "exchange.issued")
    .map((e) => e.jti as string);
}

/** A dev subject token for alice from the CLI, with an audit file of its own. */
async function devToken(dir: string, issuer: string): Promise<string> {
  const flags = storeFlags(dir, { audit: join(dir, "cli-audit.jsonl"), issuer });
  return (await runBaton(children, ["dev-token", "--user", ALICE, ...flags])).trim();
}

/** The flag and its env var: each must turn sync on. */
const SPELLINGS = [
  ["--audit-sync", ["--audit-sync"], {}],
  ["BATON_AUDIT_SYNC=1", [], { BATON_AUDIT_SYNC: "1" }],
] as const;

describe("--audit-sync: a token leaves only once its audit line is on the disk", () => {
  for (const [how, args, env] of SPELLINGS) {
    it(`serve with ${how}: every token's line is in the audit file when its response arrives`, async () => {
      const dir = await children.tempDir("baton-audit-sync-");
      const audit = join(dir, "audit.jsonl");
      const served = await startServe(children, {
        args: [...storeFlags(dir, { audit }), ...args],
        env: { BATON_WATCH: "0", ...env },
      });
      const subject = await devToken(dir, served.url);
      for (let i = 0; i < 3; i++) {
        const jti = jtiOf(await issued(served.url, subject, readCalendar));
        // Read at once, before anything else runs: the line was there before the token left.
        expect(await issuedJtis(audit)).toContain(jti);
      }
      // Many in flight at once (a group commit shares fsyncs): each one recorded too.
      const tokens = await Promise.all(
        Array.from({ length: 20 }, () => issued(served.url, subject, readCalendar)),
      );
      const recorded = await issuedJtis(audit);
      for (const token of tokens) expect(recorded).toContain(jtiOf(token));
      expect(await served.stop()).toBe(0);
    }, 60_000);
  }

  for (const [how, args, env] of SPELLINGS) {
    it(`${how}, an audit log that cannot be synced (a named pipe): every exchange is refused 503, no token; unready`, async () => {
      const dir = await children.tempDir("baton-audit-sync-fifo-");
      const fifo = join(dir, "audit.fifo");
      const copy = join(dir, "audit-copy.jsonl");
      execFileSync("mkfifo", [fifo]);
      const reader = spawn("cat", [fifo], { stdio: ["ignore", openSync(copy, "w"), "ignore"] });
      children.track(reader);
      const served = await startServe(children, {
        args: [...storeFlags(dir, { audit: fifo }), ...args],
        env: { BATON_WATCH: "0", ...env },
      });
      const subject = await devToken(dir, served.url);

      for (let i = 0; i < 3; i++) {
        const res = await exchange(served.url, subject, readCalendar);
        expectRefusal(res, 503, "temporarily_unavailable");
        expect(res.headers.get("retry-after")).toBe("1");
        expect(res.body).not.toHaveProperty("access_token");
      }
      // The line was written (the pipe took it); only the fsync failed, and that refused it.
      await until("the refused exchange's line in the pipe's copy", async () =>
        (await issuedJtis(copy)).length > 0 ? true : undefined,
      );
      const ready = await fetch(`${served.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
      const log = served.stderr();
      expect(log.match(/the audit log cannot be written/g)).toHaveLength(1);
      expect(log).toContain("EINVAL");
      expect(log).not.toContain(subject.split(".")[2] as string);
    }, 60_000);
  }

  it("mcp --audit-sync (embedded): request_token's line is in the audit file when the result arrives", async () => {
    const dir = await children.tempDir("baton-audit-sync-mcp-");
    const audit = join(dir, "audit.jsonl");
    const session = await connectStdio(children, [
      "--agent",
      "orchestrator",
      "--dev-user",
      ALICE,
      ...storeFlags(dir, { audit }),
      "--audit-sync",
    ]);
    try {
      const out = await callOk(session.client, "request_token", {
        api: "calendar",
        scopes: ["calendar.read"],
      });
      expect(await issuedJtis(audit)).toContain(jtiOf(out.access_token as string));
    } finally {
      await session.close();
    }
  }, 60_000);
});

describe("--audit-sync with --audit stderr: refused at start", () => {
  const refusal = /^baton: --audit-sync \(BATON_AUDIT_SYNC\): stderr cannot be synced/m;
  const store = (dir: string) => ["--store", `sqlite://${dir}/b.db`];
  const mcp = ["mcp", "--agent", "orchestrator", "--dev-user", ALICE];
  for (const [name, args, env] of [
    [
      "serve --audit-sync --audit stderr",
      ["serve", "--port", "0", "--audit-sync", "--audit", "stderr"],
      {},
    ],
    [
      "serve, both from env",
      ["serve", "--port", "0"],
      { BATON_AUDIT_SYNC: "1", BATON_AUDIT: "stderr" },
    ],
    ["mcp --audit-sync --audit stderr", [...mcp, "--audit-sync", "--audit", "stderr"], {}],
  ] as const) {
    it(`${name}: exit 1 with a message naming the setting`, async () => {
      const dir = await children.tempDir("baton-audit-sync-refused-");
      const { code, stdout, stderr } = await runCli(children, [...args, ...store(dir)], { env });
      expect(code, stderr).toBe(1);
      expect(stderr).toMatch(refusal);
      // Refused before anything listens or serves.
      expect(stdout).toBe("");
    }, 30_000);
  }

  it("BATON_AUDIT_SYNC=yes: exit 1, it must be 1 or 0", async () => {
    const dir = await children.tempDir("baton-audit-sync-refused-");
    const { code, stderr } = await runCli(
      children,
      ["serve", "--port", "0", "--store", `sqlite://${dir}/b.db`, "--audit", join(dir, "a.jsonl")],
      { env: { BATON_AUDIT_SYNC: "yes" } },
    );
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("baton: --audit-sync (BATON_AUDIT_SYNC): must be 1 or 0");
  }, 30_000);
});
