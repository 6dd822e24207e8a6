/**
 * The real `baton` command line, spawned for tests: `bin/baton.js` on the build that
 * test/setup/build-dist.ts makes fresh before the process tests, as a user runs it. One-shot commands
 * run to completion (`runCli`), `baton serve` is started and waited for (`startServe`), and a
 * `Children` tracker stops every process a test spawned, by pid, and removes its temp dirs.
 */

import { type ChildProcess, type StdioNull, type StdioPipe, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { freePort } from "./broker.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(ROOT, "bin/baton.js");
/**
 * The tests' own copy of the demo policies (issue 17): a user who edits `policies/` (adding an
 * API, as the docs invite) changes nothing a test sees. Only test/policy/policy-check.test.ts
 * reads the shipped `policies/`, to prove the demo valid and warning-free.
 */
export const TEST_POLICIES = join(ROOT, "test/fixtures/policies");

/**
 * The flags every command of one test shares, so a CLI command and a running `serve` use one
 * store: `--policies` (the demo's unless given), `--store sqlite://DIR/b.db`, `--audit`
 * (DIR/audit.jsonl unless given) and, when given, `--issuer`.
 */
export function storeFlags(
  dir: string,
  options: { issuer?: string; policies?: string; audit?: string } = {},
): string[] {
  return [
    "--policies",
    options.policies ?? TEST_POLICIES,
    "--store",
    `sqlite://${dir}/b.db`,
    "--audit",
    options.audit ?? join(dir, "audit.jsonl"),
    ...(options.issuer === undefined ? [] : ["--issuer", options.issuer]),
  ];
}

/** Keeps track of spawned processes and temp dirs; `cleanup` stops and removes them all. */
export class Children {
  private readonly pids = new Set<number>();
  /** Pids that lead a process group of their own (spawned `detached`): the group is killed. */
  private readonly groups = new Set<number>();
  private readonly exits = new Map<number, Promise<void>>();
  private readonly dirs: string[] = [];

  /** A fresh temp dir, removed by `cleanup`. */
  async tempDir(prefix = "baton-mcp-"): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Tracks a process by pid until it exits; `group` kills its whole process group. */
  track(child: ChildProcess, { group = false }: { group?: boolean } = {}): void {
    const pid = child.pid;
    if (pid === undefined) return;
    this.pids.add(pid);
    if (group) this.groups.add(pid);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
    }).then(() => {
      this.pids.delete(pid);
    });
    this.exits.set(pid, exited);
  }

  /** Tracks a process known only by pid (the SDK's stdio transport spawns its own). */
  trackPid(pid: number | null): void {
    if (pid !== null) this.pids.add(pid);
  }

  /** Stops tracking a pid whose process is known to have exited. */
  forget(pid: number | null): void {
    if (pid !== null) this.pids.delete(pid);
  }

  /** Kills every process still running (by pid) and removes the temp dirs. */
  async cleanup(): Promise<void> {
    await this.stopAll();
    await this.removeDirs();
  }

  /** Removes the temp dirs made so far. */
  async removeDirs(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }

  /** Sends SIGKILL to every process still running (by pid) and waits for each to exit. */
  async stopAll(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const pid of [...this.pids]) {
      try {
        process.kill(this.groups.has(pid) ? -pid : pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      this.pids.delete(pid);
      this.groups.delete(pid);
      const exited = this.exits.get(pid);
      if (exited) pending.push(exited);
    }
    await Promise.all(pending);
  }
}

/** The parent's environment without BATON_* settings, so that only flags configure the CLI. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("BATON_") && v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

export interface SpawnOptions {
  /** Variables added to the cleaned environment. */
  readonly env?: Record<string, string>;
  /** stdin of the child: closed (`ignore`, the default) or a pipe the caller writes and ends. */
  readonly stdin?: StdioNull | StdioPipe;
}

/** `node <args>` from the project root with the cleaned environment, tracked by `children`. */
export function spawnNode(
  children: Children,
  args: readonly string[],
  { env = {}, stdin = "ignore" }: SpawnOptions = {},
): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: [stdin, "pipe", "pipe"],
  });
  children.track(child);
  return child;
}

/** `baton <args>` as a child process: `bin/baton.js` on the fresh build. */
export function spawnCli(
  children: Children,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  return spawnNode(children, [CLI, ...args], options);
}

/** `baton <args>` with stdin as a pipe (the MCP tests write to it or end it themselves). */
export function spawnBaton(
  children: Children,
  args: readonly string[],
  env: Record<string, string> = {},
): ChildProcess {
  return spawnCli(children, args, { env, stdin: "pipe" });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Collects a child's output until it closes: its exit code, stdout and stderr. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a `baton` command to completion: its exit code, stdout and stderr. */
export function runCli(
  children: Children,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<CliResult> {
  return collect(spawnCli(children, args, options));
}

/** Runs a `baton` command to completion; its stdout (it must exit 0). */
export async function runBaton(children: Children, args: readonly string[]): Promise<string> {
  const { code, stdout, stderr } = await runCli(children, args);
  expect(code, `baton ${args.join(" ")}: ${stderr}`).toBe(0);
  return stdout;
}

/** Sends `signal` to the child's pid and waits for it to exit; its exit code. */
export function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
    if (child.pid !== undefined) process.kill(child.pid, signal);
  });
}

/** What a process wrote to stderr so far, read on demand. */
export function stderrOf(child: ChildProcess): () => string {
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return () => stderr;
}

/**
 * Resolves with everything on stdout so far once it includes `text`; rejects, with what the
 * child wrote to `stderr()`, if it exits first.
 */
export function waitForOutput(
  child: ChildProcess,
  text: string,
  stderr: () => string = stderrOf(child),
): Promise<string> {
  let stdout = "";
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
      if (stdout.includes(text)) resolve(stdout);
    });
    child.once("exit", (code) => reject(new Error(`exited (${code}): ${stderr()}`)));
  });
}

/** The banner line `baton serve` prints once it listens. */
export const SERVING = "Baton is serving on";

export interface ServeOptions {
  /** The flags after `--host 127.0.0.1 --port N` (policies, store, audit, issuer …). */
  readonly args: readonly string[];
  /** The loopback port; a free one when absent. */
  readonly port?: number;
  /** Resolve once stdout includes this text. */
  readonly banner?: string;
  readonly env?: Record<string, string>;
  /** stdin of the child (`ignore` by default). */
  readonly stdin?: StdioNull | StdioPipe;
}

export interface Served {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** stdout up to and including the banner. */
  readonly banner: string;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM by pid; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `baton serve` on a loopback port; resolves once its banner is printed. */
export async function startServe(children: Children, options: ServeOptions): Promise<Served> {
  const port = options.port ?? (await freePort());
  const proc = spawnCli(
    children,
    ["serve", "--host", "127.0.0.1", "--port", String(port), ...options.args],
    { env: options.env, stdin: options.stdin },
  );
  const stderr = stderrOf(proc);
  const banner = await waitForOutput(proc, options.banner ?? SERVING, stderr).catch((err) => {
    throw new Error(`baton serve ${(err as Error).message}`);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    banner,
    stderr,
    stop: () => stopChild(proc),
  };
}
