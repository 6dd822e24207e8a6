/**
 * Starts the servers under test on loopback, each pinned to the server CPU, and waits until
 * each answers. Their output goes to files in the bench's temp dir.
 */

import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PeerConfig } from "../servers/peer.js";
import { CPU, freePort, spawnTs, stop, waitForHttp } from "./proc.js";

export interface Server {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function server(name: string, port: number, child: ChildProcess): Server {
  if (child.pid === undefined) throw new Error(`${name}: did not start`);
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    child,
    stop: () => stop(child, 15_000),
  };
}

const logs = (tmp: string, name: string) => ({
  stdout: join(tmp, `${name}.out.log`),
  stderr: join(tmp, `${name}.err.log`),
});

export async function startHello(tmp: string): Promise<Server> {
  const port = await freePort();
  const child = spawnTs("bench/servers/hello.ts", [String(port)], {
    cpu: CPU.server,
    ...logs(tmp, "hello"),
  });
  const s = server("hello", port, child);
  await waitForHttp(`${s.url}/`, child);
  return s;
}

export async function startEcho(tmp: string): Promise<Server> {
  const port = await freePort();
  const child = spawnTs("bench/servers/echo-mcp.ts", [String(port)], {
    cpu: CPU.server,
    ...logs(tmp, "echo-mcp"),
  });
  const s = server("echo-mcp", port, child);
  await waitForHttp(`${s.url}/healthz`, child);
  return s;
}

export async function startPeer(tmp: string, config: PeerConfig): Promise<Server> {
  const file = join(tmp, "peer.json");
  await writeFile(file, JSON.stringify(config));
  const child = spawnTs("bench/servers/peer.ts", [file], {
    cpu: CPU.server,
    ...logs(tmp, "peer"),
  });
  const s = server("peer", config.port, child);
  await waitForHttp(`${s.url}/.well-known/openid-configuration`, child);
  return s;
}

export interface BatonOptions {
  readonly name: string;
  readonly port: number;
  readonly policies: string;
  readonly tmp: string;
  /** Write a V8 CPU profile (`--cpu-prof`) into this dir when the process exits. */
  readonly cpuProfDir?: string;
  /** `--cpu-prof-interval` in µs (V8's default: 1000). */
  readonly cpuProfInterval?: number;
  /** `memory` (diagnosis only: `--store memory:// --dev`); SQLite in the temp dir by default. */
  readonly store?: "sqlite" | "memory";
  /** `--issuer`, when it is not this server's own URL (a second node under one name). */
  readonly issuer?: string;
  /** `--audit-sync`: every token waits for its audit line to be fsynced. */
  readonly auditSync?: boolean;
}

/** A real `baton serve` (bench/servers/baton.ts), with its own SQLite store and audit file. */
export async function startBaton(o: BatonOptions): Promise<Server> {
  const child = spawnTs(
    "bench/servers/baton.ts",
    [
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      String(o.port),
      "--policies",
      o.policies,
      ...(o.store === "memory"
        ? ["--store", "memory://", "--dev"]
        : ["--store", `sqlite://${join(o.tmp, `${o.name}.sqlite`)}`]),
      "--audit",
      join(o.tmp, `${o.name}-audit.jsonl`),
      ...(o.issuer === undefined ? [] : ["--issuer", o.issuer]),
      ...(o.auditSync ? ["--audit-sync"] : []),
    ],
    {
      cpu: CPU.server,
      env: { BATON_WATCH: "0" },
      nodeFlags: [
        "--expose-gc",
        ...(o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : []),
        ...(o.cpuProfDir && o.cpuProfInterval ? [`--cpu-prof-interval=${o.cpuProfInterval}`] : []),
      ],
      ...logs(o.tmp, o.name),
    },
  );
  const s = server(o.name, o.port, child);
  // 503 until the store, keys and policy are open; 200 once the broker answers.
  await waitForHttp(`${s.url}/healthz`, child, { timeoutMs: 180_000, ok: (st) => st === 200 });
  return s;
}
