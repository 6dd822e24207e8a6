/**
 * The latency loader: requests at evenly spaced due times (open loop) or one at a time, in
 * its own process pinned to the load CPU by the caller; every latency is recorded.
 *
 * Open loop: request i is due at t0 + i / rate whatever the answers do. A tight loop
 * (setImmediate, process.hrtime) sends every request whose time has come, on a free keep-alive
 * connection or on a new one, never waiting for one; each latency runs from the due time, not
 * from the send, so a stall of the loader or of the server is counted in the requests it held
 * up instead of delaying them out of the figures (no coordinated omission). autocannon's
 * `overallRate` sends in bursts per connection and measures from the send: it does not do this.
 * How late the loop sent (its own accuracy) comes with the result.
 *
 * One at a time: the next request leaves when the previous answer has arrived; each latency
 * runs from its send.
 *
 * Usage: node --import tsx bench/open-loop.ts SPEC.json   (prints a LatencyResult as JSON)
 */

import { readFileSync } from "node:fs";
import { Agent, type IncomingMessage, request } from "node:http";
import type { Socket } from "node:net";
import { type CpuShares, cpuWindow } from "./lib/cpu.js";
import type { LatencyResult, LatencySpec } from "./lib/latency.js";
import { percentiles } from "./lib/stats.js";

const spec = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as LatencySpec;
const bodies = spec.bodiesFile
  ? readFileSync(spec.bodiesFile, "utf8").split("\n").filter(Boolean)
  : undefined;
const offset = spec.offset ?? 0;
/** autocannon's `[<id>]` placeholder: each request carries its own JSON-RPC id. */
const idParts = spec.idReplacement ? spec.body?.split("[<id>]") : undefined;
const TIMEOUT_MS = 30_000;

const warm =
  spec.mode === "open" ? Math.round(spec.rate * spec.warmupSeconds) : spec.warmupRequests;
const measured = spec.mode === "open" ? Math.round(spec.rate * spec.seconds) : spec.requests;
const total = warm + measured;

const T0 = process.hrtime.bigint();
/** Nanoseconds since start, as a double: exact for 104 days. */
const now = () => Number(process.hrtime.bigint() - T0);

/** Every measured latency in ms, failures included (a failure is an answer too, or a wait). */
const latency = new Float64Array(measured);
/** Open loop: how late each measured request left, in ms. */
const lateness = new Float64Array(spec.mode === "open" ? measured : 0);
let non2xx = 0;
let errors = 0;
/** Measured errors by code (ECONNRESET, timeout …): which kind tells whose fault it was. */
const errorKinds: Record<string, number> = {};
let mismatches = 0;
let inFlight = 0;
let maxInFlight = 0;
let connections = 0;
let settled = 0;

const url = new URL(spec.url);
// No cap: a request never queues behind a busy connection. LIFO reuses the connection freed
// last, so the pool stays as small as the load allows. Idle connections close after 1 s, well
// before the server's keep-alive timeout (Node's 5 s): a burst after a stall would otherwise
// reuse connections idle for nearly 5 s, and a server just out of a stall runs its timers
// before it reads, closing them under requests already sent (ECONNRESET).
const agent = new Agent({
  keepAlive: true,
  maxSockets: Number.POSITIVE_INFINITY,
  maxFreeSockets: 4096,
  scheduling: "lifo",
  timeout: 1000,
});
const seen = new WeakSet<Socket>();
function counted(socket: Socket): void {
  if (seen.has(socket)) return;
  seen.add(socket);
  connections++;
  socket.setNoDelay(true);
}

const success = (text: string) =>
  (spec.expect === undefined || text.includes(spec.expect)) &&
  (spec.reject === undefined || !text.includes(spec.reject));

function bodyOf(i: number): string | undefined {
  if (bodies) return bodies[(offset + i) % bodies.length];
  if (idParts) return idParts.join(`r${i}`);
  return spec.body;
}

/** Sends request i, due at `due` (ns); `then` runs once it is answered or has failed. */
function send(i: number, due: number, then?: () => void): void {
  const body = bodyOf(i);
  let done = false;
  const finish = (status: number, text: string, error?: Error) => {
    if (done) return;
    done = true;
    const end = now();
    inFlight--;
    if (i >= warm) {
      latency[i - warm] = (end - due) / 1e6;
      if (status < 0) {
        errors++;
        const kind = (error as NodeJS.ErrnoException | undefined)?.code ?? error?.message ?? "?";
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      } else if (status < 200 || status > 299) non2xx++;
      else if (!success(text)) mismatches++;
    }
    settled++;
    then?.();
    if (settled === total) report(end);
  };
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  const req = request(
    {
      agent,
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method: spec.method ?? "GET",
      headers:
        body === undefined
          ? spec.headers
          : { ...spec.headers, "content-length": String(Buffer.byteLength(body)) },
    },
    (res: IncomingMessage) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => finish(res.statusCode ?? 0, text));
      res.on("error", (e) => finish(-1, "", e));
      res.on("close", () => {
        if (!res.complete) finish(-1, "", new Error("closed before the end"));
      });
    },
  );
  req.on("socket", counted);
  req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error("timeout")));
  req.on("error", (e) => finish(-1, "", e));
  req.end(body);
}

/** From the first measured request on: its due time and the CPU readings then. */
let window: { t: number; cpu: (wall: number) => CpuShares } | undefined;
function openWindow(t: number): void {
  window = { t, cpu: cpuWindow(spec.serverPid) };
}

function openLoop(rate: number): void {
  const interval = 1e9 / rate;
  let next = 0;
  const tick = () => {
    // Every request whose time has come, however many: a late loop catches up at once.
    while (next < total) {
      const due = next * interval;
      const t = now();
      if (due > t) break;
      if (next === warm) openWindow(due);
      if (next >= warm) lateness[next - warm] = (t - due) / 1e6;
      send(next, due);
      next++;
    }
    if (next < total) setImmediate(tick);
  };
  tick();
}

function oneAtATime(): void {
  const step = (i: number) => {
    if (i === total) return;
    const t = now();
    if (i === warm) openWindow(t);
    // The next request leaves on the next turn of the loop, once this answer's connection is
    // back in the pool (sent from inside 'end', it would open a second one).
    send(i, t, () => setImmediate(step, i + 1));
  };
  step(0);
}

function report(end: number): void {
  const w = window ?? { t: 0, cpu: cpuWindow(undefined) };
  const wall = (end - w.t) / 1e9;
  let over1ms = 0;
  for (const l of lateness) if (l > 1) over1ms++;
  const late = spec.mode === "open" ? percentiles(lateness) : undefined;
  const result: LatencyResult = {
    mode: spec.mode,
    ...(spec.mode === "open" ? { rate: spec.rate } : {}),
    rps: measured / wall,
    count: measured,
    ...percentiles(latency),
    non2xx,
    errors,
    ...(errors > 0 ? { errorKinds } : {}),
    mismatches,
    connections,
    maxInFlight,
    ...(late ? { lateness: { p50: late.p50, p99: late.p99, max: late.max, over1ms } } : {}),
    seconds: wall,
    ...w.cpu(wall),
    cycled: bodies !== undefined && total > bodies.length,
    nextOffset: bodies === undefined ? 0 : (offset + total) % bodies.length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Idle keep-alive connections would hold the process open.
  agent.destroy();
}

if (measured <= 0) throw new Error(`nothing to measure: ${JSON.stringify(spec)}`);
if (spec.mode === "open") openLoop(spec.rate);
else oneAtATime();
