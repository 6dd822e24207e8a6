/**
 * The command line as a user meets it (issue 17 item 7), spawned for real: `baton --version`,
 * the examples and texts of every command's `--help`, and a `--store` path whose directory
 * does not exist, which is refused rather than created (only the default's `./data/` is made).
 */

import { spawn } from "node:child_process";
import { cp, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/main/program.js";
import { freePort } from "../helpers/broker.js";
import {
  Children,
  CLI,
  cliEnv,
  ROOT,
  runCli,
  SERVING,
  stderrOf,
  stopChild,
  TEST_POLICIES,
  waitForOutput,
} from "../helpers/cli-process.js";

const children = new Children();
afterEach(() => children.stopAll());
afterAll(() => children.removeDirs());

const baton = (args: readonly string[]) => runCli(children, args);

/** Every command's words after `baton`: [] is `baton` itself, then `serve`, `approvals list`… */
function commandPaths(cmd: Command, path: string[] = []): string[][] {
  return [path, ...cmd.commands.flatMap((sub) => commandPaths(sub, [...path, sub.name()]))];
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("baton --version", () => {
  it("prints the version of package.json and exits 0", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    for (const flag of ["--version", "-V"]) {
      const { code, stdout } = await baton([flag]);
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(version);
    }
  });
});

describe("--help", () => {
  // One spawn per command (a second each on a busy machine): the long timeout is for those.
  it("of every command ends with examples and cites no document users do not have", async () => {
    const paths = commandPaths(buildProgram());
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) {
      const { code, stdout } = await baton([...path, "--help"]);
      const what = `baton ${path.join(" ")} --help`;
      expect(code, what).toBe(0);
      expect(stdout, what).toMatch(/\nExamples:\n {2}\$ (npm|baton|BATON_)/);
      expect(stdout, what).not.toMatch(/design §|design\.md/);
    }
  }, 120_000);

  it("serve names the MCP endpoint and the approval page", async () => {
    const { stdout } = await baton(["serve", "--help"]);
    expect(stdout).toContain("/mcp");
    expect(stdout).toContain("/approvals");
  });

  it("mcp names the env vars its credentials come from", async () => {
    const { stdout } = await baton(["mcp", "--help"]);
    expect(stdout).toContain("BATON_SUBJECT_TOKEN");
    expect(stdout).toContain("BATON_CLIENT_SECRET");
  });

  it("dev-token's --issuer does not speak of host and port flags it does not have", async () => {
    const { stdout } = await baton(["dev-token", "--help"]);
    expect(stdout).not.toMatch(/from host and port/);
    expect(stdout).not.toMatch(/--host|--port/);
  });
});

describe("baton mcp --broker --audit-sync", () => {
  it("is refused with exit 1: the running broker writes the audit log, not this client", async () => {
    for (const [args, env] of [
      [["--audit-sync"], {}],
      [[], { BATON_AUDIT_SYNC: "1" }],
    ] as const) {
      const result = await runCli(
        children,
        ["mcp", "--agent", "orchestrator", "--broker", "http://127.0.0.1:1", ...args],
        { env: { BATON_CLIENT_SECRET: "s", BATON_SUBJECT_TOKEN: "t", ...env } },
      );
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(
        "--audit-sync (BATON_AUDIT_SYNC): has no effect with --broker",
      );
      expect(result.stdout).toBe("");
    }
  });
});

describe("--store sqlite://PATH or --audit PATH in a directory that does not exist", () => {
  it("is refused with exit 1, naming --store, and the directory is not created", async () => {
    const dir = await children.tempDir("baton-polish-");
    const missing = join(dir, "no-such", "dir");
    for (const command of [
      ["serve", "--port", "0"],
      ["keys", "list"],
      ["approvals", "list"],
    ]) {
      const { code, stderr } = await baton([
        ...command,
        "--policies",
        TEST_POLICIES,
        "--audit",
        join(dir, "audit.jsonl"),
        "--store",
        `sqlite://${missing}/x.db`,
      ]);
      expect(code, command.join(" ")).toBe(1);
      expect(stderr).toContain("--store");
      expect(stderr).toContain(missing);
    }
    const fromEnv = await runCli(children, ["keys", "list", "--policies", TEST_POLICIES], {
      env: { BATON_STORE: `sqlite://${missing}/x.db`, BATON_AUDIT: join(dir, "audit.jsonl") },
    });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain("BATON_STORE");
    expect(await exists(join(dir, "no-such"))).toBe(false);
  });

  it("--audit PATH in a missing directory is refused the same way, and not created", async () => {
    const dir = await children.tempDir("baton-polish-");
    const missing = join(dir, "no-such", "dir");
    const { code, stderr } = await baton([
      "keys",
      "list",
      ...["--policies", TEST_POLICIES, "--store", `sqlite://${dir}/b.db`],
      ...["--audit", join(missing, "audit.jsonl")],
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain("--audit");
    expect(stderr).toContain(missing);
    expect(await exists(join(dir, "no-such"))).toBe(false);
  });

  it("the default store still makes ./data/ in the working directory (npm start needs it)", async () => {
    const cwd = await children.tempDir("baton-polish-cwd-");
    await cp(TEST_POLICIES, join(cwd, "policies"), { recursive: true });
    const port = await freePort();
    const proc = spawn(process.execPath, [CLI, "serve", "--port", String(port)], {
      cwd,
      env: cliEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.track(proc);
    await waitForOutput(proc, SERVING, stderrOf(proc));
    expect(await exists(join(cwd, "data", "baton.db"))).toBe(true);
    await stopChild(proc);
  });
});
