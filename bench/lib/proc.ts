/**
 * Child processes of the bench: servers pinned to one CPU, the load generator to another,
 * free loopback ports, readiness waits, RSS from /proc. Every child is tracked by pid and
 * killed (by pid, never by name) when the bench ends.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Which CPU runs the servers and which runs the load generator (deps.md §8b). */
export const CPU = { server: 0, load: 1 } as const;

function findTaskset(): boolean {
  if (process.env.BENCH_PIN === "0") return false;
  if (availableParallelism() < 2) return false;
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** True when servers and load run on separate CPUs (taskset exists, 2+ CPUs, BENCH_PIN≠0). */
export const PINNED = findTaskset();

const children = new Set<ChildProcess>();

export interface SpawnOptions {
  /** The CPU to pin to (ignored when not PINNED); undefined: unpinned. */
  readonly cpu?: number;
  readonly env?: Record<string, string>;
  /** Files that receive the child's stdout / stderr; "pipe" to read them. */
  readonly stdout?: string | "pipe";
  readonly stderr?: string | "pipe";
  /** Extra node flags, before `--import tsx`. */
  readonly nodeFlags?: readonly string[];
}

/** The parent's environment without BATON_* settings: only flags configure a server. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("BATON_") && v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

const sink = (target: string | "pipe" | undefined) =>
  target === undefined ? "ignore" : target === "pipe" ? "pipe" : openSync(target, "a");

/** `node [flags] --import tsx <script> <args>` from the repo root, pinned when asked. */
export function spawnTs(
  script: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const nodeArgs = [...(options.nodeFlags ?? []), "--import", "tsx", script, ...args];
  const pin = PINNED && options.cpu !== undefined;
  // taskset execs node: the child's pid is node's pid (RSS and signals go to the right place).
  const [command, argv] = pin
    ? ["taskset", ["-c", String(options.cpu), process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command as string, argv as string[], {
    cwd: ROOT,
    env: childEnv(options.env),
    stdio: ["ignore", sink(options.stdout), sink(options.stderr)],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Runs a bench script to completion and parses the JSON it prints on stdout. */
export async function runJson<T>(
  script: string,
  args: readonly string[],
  options: Omit<SpawnOptions, "stdout" | "stderr"> = {},
): Promise<T> {
  const child = spawnTs(script, args, { ...options, stdout: "pipe", stderr: "pipe" });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c) => {
    out += c;
  });
  child.stderr?.on("data", (c) => {
    err += c;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`${script} exited ${code}: ${err.trim()}`);
  return JSON.parse(out) as T;
}

/** Stops a child by pid (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
export function stop(child: ChildProcess, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.pid && process.kill(child.pid, "SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  });
}

/** Kills every child still running, by pid. */
export function killAll(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once `url` answers `ok` (any status by default); rejects if the child exits first. */
export async function waitForHttp(
  url: string,
  child: ChildProcess,
  {
    timeoutMs = 60_000,
    ok = (_: number) => true,
  }: { timeoutMs?: number; ok?: (s: number) => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (ok(res.status)) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`${url}: not ready after ${timeoutMs} ms`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process, in MiB (VmRSS of /proc/<pid>/status). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

/**
 * The code measured: the commit, and the files under src/ that differ from it (others may be
 * editing the working tree). Read-only git commands; undefined outside a git checkout.
 */
export function sourceState(): { commit: string; changedInSrc: string[] } | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
    const commit = git("rev-parse", "--short", "HEAD").trim();
    const changedInSrc = git("status", "--porcelain", "--", "src")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit, changedInSrc };
  } catch {
    return undefined;
  }
}
