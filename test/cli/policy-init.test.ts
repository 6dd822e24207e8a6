/**
 * `baton policy init [DIR]` (design §3.1, issue 17 item 4), spawned for real: it writes a
 * starter policy that `baton policy check` accepts without a warning, prints each client
 * secret once and writes only its SHA-256, and never overwrites a policy that is there.
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  Children,
  CLI,
  type CliResult,
  cliEnv,
  collect,
  ROOT,
  runCli,
} from "../helpers/cli-process.js";

const children = new Children();
afterEach(() => children.stopAll());
afterAll(() => children.removeDirs());

const baton = (args: readonly string[]) => runCli(children, args);

/** `baton <args>` run in `cwd`, where the default `policies` directory is. */
function batonIn(cwd: string, args: readonly string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: cliEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.track(child);
  return collect(child);
}

/** The secrets `policy init` printed, by client id. */
function printedSecrets(stdout: string): Record<string, string> {
  const lines = [...stdout.matchAll(/^ {2}(assistant|notes-api) {2}(\S+)$/gm)];
  return Object.fromEntries(lines.map((m) => [m[1] as string, m[2] as string]));
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Every file in `dir`, by name: what `policy init` wrote. */
async function filesIn(dir: string): Promise<Record<string, string>> {
  const names = await readdir(dir);
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name), "utf8")));
  return Object.fromEntries(names.map((name, i) => [name, texts[i] as string]));
}

describe("baton policy init", () => {
  it("writes a starter policy and its schema that policy check accepts without a warning", async () => {
    const dir = join(await children.tempDir("baton-init-"), "new", "policies");
    const init = await baton(["policy", "init", dir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toBe("");
    const files = await filesIn(dir);
    expect(Object.keys(files).sort()).toEqual(["policy.schema.json", "policy.yaml"]);
    // The schema the first line of policy.yaml points the editor to, as the repo ships it.
    expect(files["policy.yaml"]).toMatch(
      /^# yaml-language-server: \$schema=\.\/policy\.schema\.json\n/,
    );
    expect(files["policy.schema.json"]).toBe(
      await readFile(join(ROOT, "policies/policy.schema.json"), "utf8"),
    );

    const check = await baton(["policy", "check", dir]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout.trim()).toBe(
      `${dir}/: OK (1 file, 1 API, 2 scopes, 2 agents, 0 task templates, 0 approver groups)`,
    );
    expect(check.stderr).toBe(""); // no warning either
  });

  it("prints each client secret once and writes only its SHA-256", async () => {
    const dir = join(await children.tempDir("baton-init-"), "policies");
    const init = await baton(["policy", "init", dir]);
    expect(init.code, init.stderr).toBe(0);
    const secrets = printedSecrets(init.stdout);
    expect(Object.keys(secrets).sort()).toEqual(["assistant", "notes-api"]);
    const files = await filesIn(dir);
    for (const secret of Object.values(secrets)) {
      // 32 random bytes, base64url: 256 bits, well over the 128 the policy docs ask for.
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      for (const [name, text] of Object.entries(files)) expect(text, name).not.toContain(secret);
      expect(files["policy.yaml"]).toContain(`secret_sha256: ${sha256(secret)}`);
    }
    // Fresh secrets on every run: nothing shared between two users' starters.
    const again = await baton(["policy", "init", join(dir, "..", "other")]);
    expect(printedSecrets(again.stdout).assistant).not.toBe(secrets.assistant);
  });

  it("writes to ./policies by default", async () => {
    const cwd = await children.tempDir("baton-init-cwd-");
    const init = await batonIn(cwd, ["policy", "init"]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`Wrote ${join("policies", "policy.yaml")}`);
    expect(init.stdout).toContain("baton policy check policies\n");
    expect((await readdir(join(cwd, "policies"))).sort()).toEqual([
      "policy.schema.json",
      "policy.yaml",
    ]);
  });

  it("refuses a directory that holds policy files, with exit 1, and changes nothing", async () => {
    const dir = await children.tempDir("baton-init-taken-");
    await mkdir(join(dir, "policies"));
    await writeFile(join(dir, "policies", "apis.yml"), "apis: {}\n");
    await writeFile(join(dir, "policies", "policy.yaml"), "# mine\n");
    const before = await filesIn(join(dir, "policies"));

    const init = await batonIn(dir, ["policy", "init"]);
    expect(init.code).toBe(1);
    expect(init.stderr).toBe(
      "baton: policies already holds policy files (apis.yml, policy.yaml); nothing was written. " +
        "Choose another directory: baton policy init DIR\n",
    );
    expect(init.stdout).toBe(""); // no secret printed for a policy that was not written
    expect(await filesIn(join(dir, "policies"))).toEqual(before);
  });

  it("refuses even a lone policy file it wrote itself (a second init)", async () => {
    const dir = join(await children.tempDir("baton-init-twice-"), "p");
    expect((await baton(["policy", "init", dir])).code).toBe(0);
    const before = await filesIn(dir);
    const second = await baton(["policy", "init", dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`baton: ${dir} already holds policy files (policy.yaml)`);
    expect(await filesIn(dir)).toEqual(before);
  });
});
