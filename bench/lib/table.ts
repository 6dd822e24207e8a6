/**
 * The printed table: one row per scenario, one line per ratio or target under it.
 */

export type Unit = "x" | "ms" | "MB";

/** A figure derived from the scenarios; with `op`/`limit` it is a target (PASS/MISS). */
export interface Check {
  /** What it compares, e.g. "/ floor (50 in flight)". */
  readonly label: string;
  readonly measured: number;
  readonly unit: Unit;
  readonly op?: ">=" | "<=" | "<";
  readonly limit?: number;
  /** Decimals of an `ms` figure (latencies below a millisecond need 2). */
  readonly decimals?: number;
}

export interface Row {
  readonly id: string;
  readonly scenario: string;
  readonly rps?: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly p999?: number;
  /** Decimals of the latency columns: 2 for the rows measured below a millisecond. */
  readonly decimals?: number;
  readonly non2xx?: number;
  /** Connection errors, timeouts and 2xx bodies that were not a success. */
  readonly failed?: number;
  /** CPU used by the server during the measured run, in % of one core. */
  readonly cpu?: number;
  readonly checks: readonly Check[];
}

export function passes(c: Check): boolean | undefined {
  if (c.op === undefined || c.limit === undefined || Number.isNaN(c.measured)) return undefined;
  if (c.op === ">=") return c.measured >= c.limit;
  if (c.op === "<=") return c.measured <= c.limit;
  return c.measured < c.limit;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number, decimals?: number) =>
  decimals !== undefined ? n.toFixed(decimals) : n < 10 ? n.toFixed(1) : String(Math.round(n));

function amount(n: number, unit: Unit, decimals?: number): string {
  if (Number.isNaN(n)) return "n/a";
  if (unit === "x") return `${n.toFixed(2)}×`;
  if (unit === "ms") return `${ms(n, decimals)} ms`;
  return `${n >= 0 ? "+" : ""}${n.toFixed(1)} MB`;
}

const OPS = { ">=": "≥", "<=": "≤", "<": "<" } as const;

function checkCells(c: Check | undefined): [string, string, string] {
  if (!c) return ["", "", ""];
  const target =
    c.op === undefined || c.limit === undefined
      ? ""
      : `${OPS[c.op]} ${amount(c.limit, c.unit, c.decimals)}`;
  const pass = passes(c);
  return [
    `${amount(c.measured, c.unit, c.decimals)} ${c.label}`,
    target,
    pass === undefined ? "" : pass ? "PASS" : "MISS",
  ];
}

const HEADER = [
  "scenario",
  "req/s",
  "p50 ms",
  "p99 ms",
  "p99.9 ms",
  "non-2xx",
  "srv CPU",
  "ratio",
  "target",
  "",
];
const RIGHT = new Set([1, 2, 3, 4, 5, 6]);

/** The table as text lines. */
export function renderTable(rows: readonly Row[]): string {
  const lines: string[][] = [HEADER];
  for (const row of rows) {
    const failed = row.failed ? ` +${row.failed} bad` : "";
    const latency = (n: number | undefined) => (n === undefined ? "" : ms(n, row.decimals));
    const first: string[] = [
      row.scenario,
      row.rps === undefined ? "" : int(row.rps),
      latency(row.p50),
      latency(row.p99),
      latency(row.p999),
      row.non2xx === undefined ? "" : `${row.non2xx}${failed}`,
      row.cpu === undefined || Number.isNaN(row.cpu) ? "" : `${Math.round(row.cpu)}%`,
      ...checkCells(row.checks[0]),
    ];
    lines.push(first);
    const blank = HEADER.slice(0, -3).map(() => "");
    for (const c of row.checks.slice(1)) lines.push([...blank, ...checkCells(c)]);
  }
  const widths = HEADER.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (l: string[]) =>
    l
      .map((cell, i) =>
        RIGHT.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [fmt(lines[0] as string[]), rule, ...lines.slice(1).map(fmt)].join("\n");
}
