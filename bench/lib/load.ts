/**
 * Runs one load: the spec goes to bench/loader.ts in a child process pinned to the load CPU.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CPU, runJson } from "./proc.js";

export interface LoadSpec {
  readonly url: string;
  readonly method?: "GET" | "POST";
  readonly headers?: Record<string, string>;
  /** One body for every request. */
  readonly body?: string;
  /** A file of bodies, one per line, sent in turn (starting at `offset`). */
  readonly bodiesFile?: string;
  readonly offset?: number;
  /** Replace `[<id>]` in the body with a fresh id per request (JSON-RPC ids). */
  readonly idReplacement?: boolean;
  readonly connections: number;
  /** Seconds of measured load; or `amount` requests in total. */
  readonly duration?: number;
  readonly amount?: number;
  /** Seconds of load before the measured run, not counted. */
  readonly warmup: number;
  /** A 2xx body must contain this (and must not contain `reject`) to count as a success. */
  readonly expect?: string;
  readonly reject?: string;
  /** The server's pid: its CPU use during the measured run is reported. */
  readonly serverPid?: number;
}

/** What every measured run reports besides its latencies: outcomes, CPU, the bodies it used. */
export interface RunTally {
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  /** 2xx responses whose body failed `expect`/`reject`. */
  readonly mismatches: number;
  readonly seconds: number;
  /** CPU the server used during the measured run, in % of one core. */
  readonly serverCpu?: number;
  /** CPU the load generator used, in % of one core. */
  readonly loaderCpu: number;
  /** CPU used by every other process meanwhile, in % of one core (noise: keep it near 0). */
  readonly otherCpu?: number;
  /** More requests than bodies: some distinct bodies were sent twice. */
  readonly cycled: boolean;
  /** The index of the next unsent body: where the next run should start. */
  readonly nextOffset: number;
}

export interface LoadResult extends RunTally {
  /** Requests per second (autocannon's per-second average; total / seconds for `amount`). */
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly meanMs: number;
  /** Responses received in the measured run. */
  readonly total: number;
}

let runs = 0;

/** One autocannon run (with its warm-up) against a server already started. */
export async function runLoad(spec: LoadSpec, tmp: string): Promise<LoadResult> {
  const file = join(tmp, `load-${++runs}.json`);
  await writeFile(file, JSON.stringify(spec));
  return runJson<LoadResult>("bench/loader.ts", [file], { cpu: CPU.load });
}
