/**
 * Runs one latency measurement: the spec goes to bench/open-loop.ts in a child process pinned
 * to the load CPU, as bench/loader.ts runs autocannon's loads.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LoadSpec, RunTally } from "./load.js";
import { CPU, runJson } from "./proc.js";
import type { Percentiles } from "./stats.js";

/** What to send and what counts as a success: the request part of an autocannon load. */
export type RequestSpec = Pick<
  LoadSpec,
  | "url"
  | "method"
  | "headers"
  | "body"
  | "bodiesFile"
  | "offset"
  | "idReplacement"
  | "expect"
  | "reject"
  | "serverPid"
>;

/** Requests due at t0 + i / rate, sent then whatever the answers do. */
export interface OpenLoop {
  readonly mode: "open";
  /** Requests per second. */
  readonly rate: number;
  /** Seconds of measured requests, after `warmupSeconds` whose requests are not counted. */
  readonly seconds: number;
  readonly warmupSeconds: number;
}

/** One request at a time: the next leaves when the previous answer has arrived. */
export interface Sequential {
  readonly mode: "sequential";
  /** Measured requests, after `warmupRequests` that are not counted. */
  readonly requests: number;
  readonly warmupRequests: number;
}

export type LatencySpec = RequestSpec & (OpenLoop | Sequential);

/** Milliseconds the loader sent a request after its due time (open loop): its own accuracy. */
export interface Lateness {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Requests sent more than 1 ms late. */
  readonly over1ms: number;
}

/**
 * A run's latencies in ms, each from the request's due time (open loop) or its send (one at a
 * time) to the last byte of its answer, failures included.
 */
export interface LatencyResult extends Percentiles, RunTally {
  readonly mode: "open" | "sequential";
  /** The scheduled rate (open loop). */
  readonly rate?: number;
  /** Measured answers per second. */
  readonly rps: number;
  /** Measured requests (one latency each). */
  readonly count: number;
  /** The errors by code (ECONNRESET, …), when there were any. */
  readonly errorKinds?: Record<string, number>;
  /** Keep-alive connections opened (one more whenever none was free). */
  readonly connections: number;
  readonly maxInFlight: number;
  readonly lateness?: Lateness;
}

let runs = 0;

export async function runLatency(spec: LatencySpec, tmp: string): Promise<LatencyResult> {
  const file = join(tmp, `latency-${++runs}.json`);
  await writeFile(file, JSON.stringify(spec));
  return runJson<LatencyResult>("bench/open-loop.ts", [file], { cpu: CPU.load });
}
