/**
 * CPU time of a process and of each of its threads, from /proc (Linux): enough to tell a
 * server that is CPU-bound from one that waits, and the JS thread from the libuv threadpool
 * (where WebCrypto signs and verifies) and V8's helper threads.
 */

import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** utime + stime in seconds, from a /proc stat line (fields after the `(comm)`). */
function statSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5) are the 12th and 13th after the state field.
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** CPU seconds used so far by the whole process (all threads). */
export function cpuSeconds(pid: number): number {
  try {
    return statSeconds(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds so far per thread: `main` for the JS thread, else `+N name` (N = tid - pid, in
 * creation order: V8's platform workers come first, the libuv pool, where WebCrypto and
 * node-sqlite3 run, is created on first use).
 */
export function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const key = Number(tid) === pid ? "main (JS)" : `+${Number(tid) - pid} ${name}`;
      out.set(key, statSeconds(stat));
    }
  } catch {
    // Not Linux, or the process is gone.
  }
  return out;
}

/** Per-thread-name CPU seconds used between two snapshots. */
export function threadDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, s] of after) out.set(name, s - (before.get(name) ?? 0));
  return out;
}

/** CPU seconds all CPUs have spent busy since boot (/proc/stat), or NaN off Linux. */
export function systemBusySeconds(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (
      ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
      TICKS
    );
  } catch {
    return Number.NaN;
  }
}

/** CPU used during a measured run, in % of one core. */
export interface CpuShares {
  /** The server's (all its threads); absent without a server pid. */
  readonly serverCpu?: number;
  /** This process's: the load generator's. */
  readonly loaderCpu: number;
  /** Every other process's meanwhile (noise: keep it near 0); absent off Linux. */
  readonly otherCpu?: number;
}

/** Starts a window of CPU readings; the function it returns closes it, `wall` seconds later. */
export function cpuWindow(serverPid: number | undefined): (wall: number) => CpuShares {
  const server0 = serverPid === undefined ? Number.NaN : cpuSeconds(serverPid);
  const busy0 = systemBusySeconds();
  const own0 = process.cpuUsage();
  return (wall) => {
    const server = serverPid === undefined ? Number.NaN : cpuSeconds(serverPid) - server0;
    const busy = systemBusySeconds() - busy0;
    const own = process.cpuUsage(own0);
    const ownSeconds = (own.user + own.system) / 1e6;
    return {
      ...(Number.isNaN(server) ? {} : { serverCpu: (server / wall) * 100 }),
      loaderCpu: (ownSeconds / wall) * 100,
      // Whatever else ran meanwhile (other processes on this machine): it skews the figures.
      ...(Number.isNaN(busy) || Number.isNaN(server)
        ? {}
        : { otherCpu: ((busy - server - ownSeconds) / wall) * 100 }),
    };
  };
}
