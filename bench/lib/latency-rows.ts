/**
 * The table rows of the latency measurements (bench/lib/latency-round.ts) and their targets:
 * at a realistic load, `/token`'s p99 and p99.9 within 3× hello world's through the same
 * loader at the same rate; one at a time, `/token`'s p50 within hello world's plus three
 * sign+verify pairs. Each figure is the median over rounds; each ratio the median of the
 * rounds' own ratios (both sides measured a few seconds apart).
 */

import type { LatencyResult } from "./latency.js";
import { LATENCY_TARGETS, type LatencyRound, type LatencyTarget } from "./latency-round.js";
import { median } from "./stats.js";
import type { Check, Row } from "./table.js";

const NAMES: Record<LatencyTarget, string> = {
  token: "baton /token, distinct",
  mcp: "mcp request_token",
  hello: "hello world (noise floor)",
};

type Mode = "open" | "sequential";

function row(
  rounds: readonly LatencyRound[],
  mode: Mode,
  target: LatencyTarget,
  scenario: string,
  checks: Check[],
): Row {
  const runs = rounds.map((r) => r[mode][target]);
  const mid = (f: (x: LatencyResult) => number) => median(runs.map(f));
  const sum = (f: (x: LatencyResult) => number) => runs.reduce((n, x) => n + f(x), 0);
  const cpu = runs.every((x) => x.serverCpu !== undefined)
    ? mid((x) => x.serverCpu as number)
    : undefined;
  return {
    id: `${mode}${target[0]?.toUpperCase()}${target.slice(1)}`,
    scenario: rounds.length > 1 ? `${scenario} *` : scenario,
    rps: mid((x) => x.rps),
    p50: mid((x) => x.p50),
    p99: mid((x) => x.p99),
    // p99.9 of one-at-a-time runs is their third-slowest request: noise, in the JSON only.
    ...(mode === "open" ? { p999: mid((x) => x.p999) } : {}),
    decimals: 2,
    non2xx: sum((x) => x.non2xx),
    failed: sum((x) => x.errors + x.mismatches),
    ...(cpu === undefined ? {} : { cpu }),
    checks,
  };
}

export function latencyRows(rounds: readonly LatencyRound[], load: number): Row[] {
  const share = `${Math.round(load * 100)}% load, open loop`;
  /** The median over rounds of a figure of each round (a ratio: both sides of one round). */
  const perRound = (f: (r: LatencyRound) => number) => median(rounds.map(f));
  const open = (t: LatencyTarget, checks: Check[] = []) =>
    row(rounds, "open", t, `${share}: ${NAMES[t]}`, checks);
  const sequential = (t: LatencyTarget, checks: Check[] = []) =>
    row(rounds, "sequential", t, `1 at a time: ${NAMES[t]}`, checks);
  return [
    open("token", [
      {
        label: "p99 / hello p99",
        measured: perRound((r) => r.open.token.p99 / r.open.hello.p99),
        unit: "x",
        op: "<=",
        limit: 3,
      },
      {
        label: "p99.9 / hello p99.9",
        measured: perRound((r) => r.open.token.p999 / r.open.hello.p999),
        unit: "x",
        op: "<=",
        limit: 3,
      },
    ]),
    open("mcp", [
      {
        label: "p99 / hello p99",
        measured: perRound((r) => r.open.mcp.p99 / r.open.hello.p99),
        unit: "x",
      },
    ]),
    open("hello", [
      {
        label: "max send delay (loader, worst round)",
        measured: Math.max(...rounds.map((r) => r.open.hello.lateness?.max ?? Number.NaN)),
        unit: "ms",
        decimals: 2,
      },
    ]),
    sequential("token", [
      {
        label: "(p50 − hello p50) / pair",
        measured: perRound((r) => (r.sequential.token.p50 - r.sequential.hello.p50) / r.pairMs),
        unit: "x",
        op: "<=",
        limit: 3,
      },
    ]),
    sequential("mcp"),
    sequential("hello"),
    {
      id: "pair",
      scenario: `1 at a time: one sign+verify pair, Baton's path${rounds.length > 1 ? " *" : ""}`,
      p50: perRound((r) => r.pairMs),
      decimals: 2,
      checks: [],
    },
  ];
}

/** What the rows do not show: failures, the loader's own accuracy, noisy neighbours. */
export function latencyNotes(rounds: readonly LatencyRound[], noisyCpu: number): string[] {
  const notes: string[] = [];
  for (const mode of ["open", "sequential"] as const) {
    for (const target of LATENCY_TARGETS) {
      const what = `${mode === "open" ? "Open loop" : "1 at a time"}, ${NAMES[target]}`;
      const runs = rounds.map((r) => r[mode][target]);
      const sum = (f: (x: LatencyResult) => number) => runs.reduce((n, x) => n + f(x), 0);
      if (sum((x) => x.non2xx + x.errors + x.mismatches) > 0) {
        const kinds: Record<string, number> = {};
        for (const x of runs) {
          for (const [k, n] of Object.entries(x.errorKinds ?? {})) kinds[k] = (kinds[k] ?? 0) + n;
        }
        const errors = Object.entries(kinds).map(([k, n]) => `${n} ${k}`);
        notes.push(
          `${what}: ${sum((x) => x.non2xx)} non-2xx, ${sum((x) => x.errors)} errors/timeouts${errors.length > 0 ? ` (${errors.join(", ")})` : ""}, ${sum((x) => x.mismatches)} 2xx bodies not a success.`,
        );
      }
      if (runs.some((x) => x.cycled)) {
        notes.push(`${what}: more requests than distinct bodies; some were sent twice.`);
      }
      // An open loop the server cannot follow measures its queue, growing as long as it runs (2%
      // short over 10 s: answers ~0.2 s behind at the end).
      const behind = runs.filter((x) => x.rate !== undefined && x.rps < 0.98 * x.rate);
      if (behind.length > 0) {
        notes.push(
          `${what}: the server fell behind the rate (${behind.map((x) => `${Math.round(x.rps)} of ${x.rate} req/s answered`).join("; ")}).`,
        );
      }
      const other = Math.max(0, ...runs.map((x) => x.otherCpu ?? 0));
      if (other > noisyCpu) {
        notes.push(
          `${what}: other processes used up to ${Math.round(other)}% of a core meanwhile: its figures are skewed.`,
        );
      }
    }
  }
  const opens = rounds.flatMap((r) => Object.values(r.open));
  const late = (f: (l: NonNullable<LatencyResult["lateness"]>) => number) =>
    Math.max(...opens.map((x) => (x.lateness ? f(x.lateness) : 0)));
  const over = opens.reduce((n, x) => n + (x.lateness?.over1ms ?? 0), 0);
  const count = opens.reduce((n, x) => n + x.count, 0);
  const conns = (t: LatencyTarget) => Math.max(...rounds.map((r) => r.open[t].connections));
  notes.push(
    `Open loop at ${rounds.map((r) => r.rate).join(", ")} req/s by round: the loader sent each request at most ${late((l) => l.max).toFixed(2)} ms after its due time ` +
      `(p99 up to ${late((l) => l.p99).toFixed(2)} ms; ${over} of ${count} more than 1 ms late), on up to ` +
      `${conns("token")} (/token), ${conns("mcp")} (MCP) and ${conns("hello")} (hello) keep-alive connections.`,
  );
  return notes;
}
