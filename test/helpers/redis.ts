/**
 * A real `redis-server` of the test's own, on a free loopback port, stopped by its pid. Never
 * the machine's Redis on 6379 (the guide: tests must not depend on it or disturb it).
 *
 * With `persist`, Redis writes every command to an append-only file with fsync, so a Redis
 * killed with SIGKILL and started again on the same port keeps what it had acknowledged: the
 * fault tests use that to check that what Redis acknowledged before the kill survived it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./broker.js";

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: the way a crashed Redis goes, mid-command. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that holds connections open but never answers. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port (and, with `persist`, the same data). */
  restart(): Promise<void>;
  /** SIGTERM, then removes its directory. */
  stop(): Promise<void>;
}

export async function startRedis(options: { persist?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "baton-redis-"));
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--dir",
    dir,
    ...(options.persist
      ? ["--appendonly", "yes", "--appendfsync", "always"]
      : ["--appendonly", "no"]),
  ];
  let child = await launch(args, port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      await signalAndWait(child, "SIGKILL");
    },
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    restart: async () => {
      child = await launch(args, port);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        await signalAndWait(child, "SIGTERM");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return child;
}

/** True once the server answers PING with PONG. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.setTimeout(500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    for (const event of ["error", "timeout"]) {
      socket.once(event, () => {
        socket.destroy();
        resolve(false);
      });
    }
  });
}

function signalAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}
