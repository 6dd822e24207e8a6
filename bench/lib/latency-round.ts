/**
 * One round of the latency rows: the open loop at a share of the `/token` distinct throughput
 * measured just before in the same round, then one request at a time, each for `/token`
 * distinct, MCP `request_token` and the hello-world server. Hello world answers at once: its
 * latencies through the same loader at the same rate are this machine's noise floor (loopback,
 * scheduler, the loader itself), the figure Baton's are compared with.
 */

import { type LatencyResult, type RequestSpec, runLatency } from "./latency.js";

export const LATENCY_TARGETS = ["token", "mcp", "hello"] as const;
export type LatencyTarget = (typeof LATENCY_TARGETS)[number];

export interface LatencySettings {
  /** The open loop's rate, as a share of the round's `/token` distinct req/s. */
  readonly load: number;
  readonly openSeconds: number;
  readonly openWarmup: number;
  readonly sequentialRequests: number;
  readonly sequentialWarmup: number;
}

export interface LatencyRound {
  /** The open loop's rate, req/s. */
  readonly rate: number;
  /** One sign+verify pair on Baton's path (node:crypto, one at a time, server CPU), in ms. */
  readonly pairMs: number;
  readonly open: Record<LatencyTarget, LatencyResult>;
  readonly sequential: Record<LatencyTarget, LatencyResult>;
}

export interface LatencyRoundOptions {
  readonly tmp: string;
  readonly settings: LatencySettings;
  /** The round's `/token` distinct req/s (autocannon, 50 connections). */
  readonly distinctRps: number;
  readonly pairMs: number;
  /** What each target sends; the `/token` one a bodies file, from its `offset` on. */
  readonly targets: Record<LatencyTarget, RequestSpec>;
  /** Extra warm-up seconds for the MCP and hello-world paths when no load has warmed them. */
  readonly coldWarmup: number;
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const f2 = (n: number) => n.toFixed(2);

function told(what: string, r: LatencyResult): LatencyResult {
  const bad = r.non2xx + r.errors + r.mismatches;
  const late = r.lateness ? `, sent up to ${f2(r.lateness.max)} ms late` : "";
  say(
    `  ${what}: ${Math.round(r.rps)} req/s, p50 ${f2(r.p50)}, p99 ${f2(r.p99)}, p99.9 ${f2(r.p999)}, max ${f2(r.max)} ms, ` +
      `${r.connections} connection${r.connections === 1 ? "" : "s"}${late}` +
      (bad > 0
        ? `, ${r.non2xx} non-2xx, ${r.errors} errors ${JSON.stringify(r.errorKinds ?? {})}, ${r.mismatches} bad bodies`
        : ""),
  );
  return r;
}

/** The six latency runs of a round; the `/token` target's next unsent body comes back. */
export async function measureLatencyRound(
  o: LatencyRoundOptions,
): Promise<{ round: LatencyRound; nextOffset: number }> {
  const { settings: s, tmp } = o;
  const rate = Math.max(1, Math.round(o.distinctRps * s.load));
  let offset = o.targets.token.offset ?? 0;
  // Each /token run starts where the last one stopped: no subject token is sent twice.
  const target = (t: LatencyTarget): RequestSpec =>
    t === "token" ? { ...o.targets.token, offset } : o.targets[t];
  const advance = (t: LatencyTarget, r: LatencyResult) => {
    if (t === "token") offset = r.nextOffset;
    return r;
  };
  const warmup = (t: LatencyTarget) => s.openWarmup + (t === "token" ? 0 : o.coldWarmup);
  const open = {} as Record<LatencyTarget, LatencyResult>;
  for (const t of LATENCY_TARGETS) {
    const spec = {
      ...target(t),
      mode: "open" as const,
      rate,
      seconds: s.openSeconds,
      warmupSeconds: warmup(t),
    };
    open[t] = told(`open loop ${t} at ${rate} req/s`, advance(t, await runLatency(spec, tmp)));
  }
  const sequential = {} as Record<LatencyTarget, LatencyResult>;
  for (const t of LATENCY_TARGETS) {
    const spec = {
      ...target(t),
      mode: "sequential" as const,
      requests: s.sequentialRequests,
      warmupRequests: s.sequentialWarmup,
    };
    sequential[t] = told(`1 at a time ${t}`, advance(t, await runLatency(spec, tmp)));
  }
  return { round: { rate, pairMs: o.pairMs, open, sequential }, nextOffset: offset };
}
