/**
 * The load generator: one autocannon run (after a discarded warm-up) in its own process,
 * pinned to the load CPU by the caller. Distinct bodies are read from a file, one per line,
 * and cycled: every request of a run sends the next one.
 *
 * Usage: node --import tsx bench/loader.ts SPEC.json   (prints a LoadResult as JSON)
 */

import { readFileSync } from "node:fs";
import autocannon, { type Options, type Request } from "autocannon";
import { cpuWindow } from "./lib/cpu.js";
import type { LoadResult, LoadSpec } from "./lib/load.js";

const spec = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as LoadSpec;
const bodies = spec.bodiesFile
  ? readFileSync(spec.bodiesFile, "utf8").split("\n").filter(Boolean)
  : undefined;
let next = spec.offset ?? 0;

/** 2xx responses whose body failed `expect` / `reject` in the current run. */
let mismatches = 0;

function options(run: { duration?: number; amount?: number }): Options {
  const { expect, reject } = spec;
  const check = expect !== undefined || reject !== undefined;
  const list = bodies;
  return {
    url: spec.url,
    connections: spec.connections,
    timeout: 30,
    ...(spec.idReplacement ? { idReplacement: true } : {}),
    ...run,
    requests: [
      {
        method: spec.method ?? "GET",
        ...(spec.headers ? { headers: spec.headers } : {}),
        ...(spec.body === undefined ? {} : { body: spec.body }),
        ...(list
          ? {
              setupRequest: (request: Request) => {
                const body = list[next % list.length] as string;
                next++;
                return { ...request, body };
              },
            }
          : {}),
        ...(check
          ? {
              onResponse: (status: number, body: string) => {
                if (status < 200 || status > 299) return;
                if (expect !== undefined && !body.includes(expect)) mismatches++;
                else if (reject !== undefined && body.includes(reject)) mismatches++;
              },
            }
          : {}),
      },
    ],
  };
}

if (spec.warmup > 0) await autocannon(options({ duration: spec.warmup }));
mismatches = 0;
const first = next;
const cpu = cpuWindow(spec.serverPid);
const t0 = performance.now();
const r = await autocannon(
  options(spec.amount === undefined ? { duration: spec.duration ?? 5 } : { amount: spec.amount }),
);
const wall = (performance.now() - t0) / 1000;
const total = r["1xx"] + r["2xx"] + r["3xx"] + r["4xx"] + r["5xx"];
const result: LoadResult = {
  rps: spec.amount === undefined ? r.requests.average : total / r.duration,
  p50: r.latency.p50,
  p99: r.latency.p99,
  meanMs: r.latency.average,
  total,
  non2xx: r.non2xx,
  errors: r.errors + r.timeouts,
  mismatches,
  seconds: r.duration,
  ...cpu(wall),
  cycled: bodies !== undefined && next - first > bodies.length,
  nextOffset: bodies === undefined ? 0 : next % bodies.length,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
