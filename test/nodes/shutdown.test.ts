/**
 * Issue 6, "done when" (graceful shutdown): SIGTERM to a `baton serve` node on Redis, under a
 * load of token exchanges on keep-alive connections (Node's fetch pools them). The node stops
 * accepting, finishes what is in flight, closes the store and exits 0; no response is cut off.
 *
 * How a cut-off is told from a refusal: ECONNREFUSED means the connection was never accepted
 * (allowed once the node stops listening). Any other failure (ECONNRESET, "other side closed")
 * may be a response cut off, or a request written on a keep-alive connection the node had
 * already closed (Node's server.close() closes idle connections at once; the client's pool
 * learns of it only later). To tell them apart, node A is traced by test/nodes/http-trace.cjs
 * (a preload, nothing in src/): each request's unique `x-load-id` is logged when Node hands it
 * to Baton, and again when its response is fully written. A cut-off is a request read and never
 * answered; a request never read was never decided either (its `reason` is not in the audit
 * log). And the tokens: every `exchange.issued` in A's audit log must have reached the client.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Children } from "../helpers/cli-process.js";
import { callOk, callTool, connectHttp } from "../helpers/mcp.js";
import {
  auditOf,
  type BatonNode,
  Cluster,
  causeOf,
  exchangeForm,
  issued,
  jtiOf,
  kindOf,
  type NodeOptions,
  post,
  readCalendar,
  runLoad,
  tally,
  USER,
  until,
} from "../helpers/nodes.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

const children = new Children();
const redises: TestRedis[] = [];

afterEach(async () => {
  await children.stopAll();
  await Promise.all(redises.splice(0).map((r) => r.stop()));
  await children.removeDirs();
});

async function cluster(nodes: readonly NodeOptions[]): Promise<Cluster> {
  const redis = await startRedis();
  redises.push(redis);
  return Cluster.start(children, { redis, withoutRateLimit: true, nodes });
}

const TRACER = fileURLToPath(new URL("./http-trace.cjs", import.meta.url));

/** The environment of a node whose HTTP server is traced into `file`. */
function traced(file: string): Record<string, string> {
  const inherited = process.env.NODE_OPTIONS ?? "";
  return { HTTP_TRACE_FILE: file, NODE_OPTIONS: `${inherited} --require ${TRACER}`.trim() };
}

/** The trace of test/nodes/http-trace.cjs: ids read, answered in full, and cut. */
async function readTrace(file: string) {
  const read = new Set<string>();
  const answered = new Set<string>();
  const cut: string[] = [];
  for (const line of (await readFile(file, "utf8")).split("\n")) {
    const [event, id] = line.split(" ");
    if (id === undefined) continue;
    if (event === "read") read.add(id);
    else if (event === "answered") answered.add(id);
    else if (event === "cut") cut.push(id);
  }
  return { read, answered, cut };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The `stopping` log line of a node: how many requests were in flight at SIGTERM. */
function inFlightAtStop(node: BatonNode): number | undefined {
  for (const line of node.served.stderr().split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; inFlight?: number };
    if (entry.msg?.startsWith("stopping")) return entry.inFlight;
  }
  return undefined;
}

describe("issue 6: SIGTERM under load", { timeout: 60_000 }, () => {
  it("stops accepting, answers every request it read, exits 0; the other node serves on", async () => {
    const dir = await children.tempDir("baton-trace-");
    const traceFile = join(dir, "http-trace.log");
    // A long store deadline: the store is held for a moment around SIGTERM (below).
    const patient = ["--store-timeout", "5000"];
    const c = await cluster([{ env: traced(traceFile), args: patient }, { args: patient }]);
    const [A, B] = c.nodes as [BatonNode, BatonNode];
    const subject = await c.devToken();
    await issued(A.url, subject, readCalendar);

    let running = true;
    const loadA = runLoad({
      targets: [A.url],
      // Enough loops that some requests are always in flight, even on two busy cores.
      loops: 48,
      form: (id) => exchangeForm(subject, { ...readCalendar, reason: id }),
      running: () => running,
      stopOnRefused: true,
    });
    const loadB = runLoad({
      targets: [B.url],
      loops: 4,
      form: (id) => exchangeForm(subject, { ...readCalendar, reason: id }),
      running: () => running,
    });
    await sleep(1_000);
    // Requests must be inside the node when SIGTERM comes. The load alone does not promise it:
    // on two busy cores the client may be the one that is behind. So the store is held (Redis
    // stopped) for a moment, the requests the node reads wait on it, and then SIGTERM comes.
    c.redis.pause();
    await sleep(200);
    const termAt = performance.now();
    const exited = c.stop(A);
    await until("the node to log its stop", () => inFlightAtStop(A));
    c.redis.resume();
    const code = await exited;
    const exitMs = performance.now() - termAt;
    await sleep(500);
    running = false;
    const outcomes = await loadA;
    const atB = await loadB;

    const afterTerm = outcomes.filter((o) => o.start + o.ms >= termAt);
    const inFlight = inFlightAtStop(A);
    console.log(
      `SIGTERM: exit ${code} after ${exitMs.toFixed(0)} ms; in flight at SIGTERM: ${inFlight}; ` +
        `A's outcomes ${JSON.stringify(tally(outcomes, kindOf))}, ended after SIGTERM ${JSON.stringify(tally(afterTerm, kindOf))}; ` +
        `B meanwhile ${JSON.stringify(tally(atB, kindOf))}`,
    );
    expect(code).toBe(0);
    expect(inFlight, "requests were in flight when SIGTERM came").toBeGreaterThan(0);

    // The node's side, from the trace: every request it read was answered in full.
    const trace = await readTrace(traceFile);
    expect(trace.cut, "requests whose connection closed before their response").toEqual([]);
    expect(
      [...trace.read].filter((id) => !trace.answered.has(id)),
      "requests read and never answered",
    ).toEqual([]);
    // The client's side: every answer is a token (the store stayed up), none was lost on the
    // way, and every other failure is a request the node never read.
    const answered = outcomes.filter((o) => o.error === undefined);
    for (const o of answered) {
      expect(o.status, JSON.stringify(o.body)).toBe(200);
      expect(trace.answered.has(o.id), o.id).toBe(true);
    }
    const failed = outcomes.filter((o) => o.error !== undefined && o.error !== "ECONNREFUSED");
    const cutOff = failed.filter((o) => trace.read.has(o.id));
    console.log(
      `transport failures other than ECONNREFUSED: ${JSON.stringify(tally(failed, kindOf))}; ` +
        `of them read by the node (cut off): ${cutOff.length}; never read by it ` +
        `(written on a keep-alive connection the node was closing): ${failed.length - cutOff.length}`,
    );
    expect(
      cutOff.map((o) => `${o.id}: ${o.error}`),
      "responses cut off",
    ).toEqual([]);
    // Every token the node issued (its audit log) reached its client.
    const received = new Set(
      outcomes.filter((o) => o.status === 200).map((o) => jtiOf(o.body?.access_token)),
    );
    const audit = await auditOf(A);
    const issuedJtis = audit
      .filter((e) => e.type === "exchange.issued" && e.reason?.startsWith("load-"))
      .map((e) => e.jti);
    expect(issuedJtis.length).toBeGreaterThan(0);
    expect(issuedJtis.filter((j) => !received.has(j as string))).toEqual([]);
    // The failed requests were never decided: no exchange event names them.
    const decided = new Set(audit.map((e) => e.reason));
    expect(failed.filter((o) => decided.has(o.id)).map((o) => o.id)).toEqual([]);

    // The node refuses new connections now; B never noticed.
    const refused = await post(A.url, "/token", exchangeForm(subject, readCalendar)).then(
      () => "answered",
      (err) => causeOf(err),
    );
    expect(refused).toBe("ECONNREFUSED");
    expect(atB.length).toBeGreaterThan(0);
    for (const o of atB) expect(kindOf(o)).toBe("200");
  });

  it("a request waiting on the store when SIGTERM comes is answered with its token, then the node exits", async () => {
    // A long store deadline, so that requests wait on a hung Redis instead of failing at 500 ms.
    const c = await cluster([{ args: ["--store-timeout", "5000"] }]);
    const [A] = c.nodes as [BatonNode];
    const subject = await c.devToken();
    await issued(A.url, subject, readCalendar);

    c.redis.pause();
    const pending = Array.from({ length: 5 }, (_, i) =>
      post(A.url, "/token", exchangeForm(subject, { ...readCalendar, reason: `held-${i}` })).then(
        async (res) => ({ status: res.status, body: (await res.json()) as Record<string, any> }),
        (err) => ({ status: 0, body: { error: causeOf(err) } as Record<string, any> }),
      ),
    );
    await sleep(300);
    let exitCode: number | null | undefined;
    const exited = c.stop(A).then((code) => {
      exitCode = code;
    });
    await until("the node to log its stop", () => inFlightAtStop(A));
    expect(inFlightAtStop(A)).toBe(5);
    // Stopping: no new connection is accepted, but the node waits for the five.
    const refused = await post(A.url, "/token", exchangeForm(subject, readCalendar)).then(
      () => "answered",
      (err) => causeOf(err),
    );
    expect(refused).toBe("ECONNREFUSED");
    await sleep(300);
    expect(exitCode).toBeUndefined();

    c.redis.resume();
    const answers = await Promise.all(pending);
    await exited;
    expect(exitCode).toBe(0);
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      expect(a.body.access_token).toEqual(expect.any(String));
    }
    const audit = await auditOf(A);
    expect(
      audit
        .filter((e) => e.type === "exchange.issued" && e.reason?.startsWith("held-"))
        .map((e) => e.jti)
        .sort(),
    ).toEqual(answers.map((a) => jtiOf(a.body.access_token)).sort());
  });

  it("an MCP tool call waiting on the store when SIGTERM comes gets its whole result", async () => {
    // MCP answers a POST with an event stream that carries the result later: the node must
    // count that stream as in flight until it ends, not only until the handler returned.
    const c = await cluster([{ args: ["--store-timeout", "5000"] }]);
    const [A] = c.nodes as [BatonNode];
    const bearer = (await c.cli("dev-token", "--user", USER, "--agent", "orchestrator")).trim();
    const client = await connectHttp(A.url, bearer);
    expect((await callOk(client, "list_apis")).apis).toBeDefined();

    c.redis.pause();
    const call = callTool(client, "request_token", { api: "calendar", scopes: ["calendar.read"] });
    await sleep(300);
    const exited = c.stop(A);
    await until("the node to log its stop", () => inFlightAtStop(A));
    expect(inFlightAtStop(A)).toBe(1);
    await sleep(300);
    c.redis.resume();
    const outcome = await call;
    expect(outcome.isError, outcome.text).toBe(false);
    expect(outcome.out.access_token).toEqual(expect.any(String));
    expect(await exited).toBe(0);
    await client.close().catch(() => undefined);
  });
});
