/**
 * Issue 6, item 4: `/metrics` in Prometheus text (exchanges by outcome through both doors,
 * request latency by route pattern, approvals, tasks, store errors) and the readiness check
 * `/readyz`, which asks the store, beside the liveness check `/healthz`, which does not. Real
 * brokers on loopback, a real MCP client, a real redis-server; nothing of ours is mocked.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBroker } from "../../src/exchange/broker.js";
import { createApp } from "../../src/http/app.js";
import { accessRequest, decideAs, requestApproval } from "../helpers/approvals.js";
import { exchange, expectIssued, expectRefused } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { callOk, callRefused, connectHttp } from "../helpers/mcp.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { endTask, startTask } from "../helpers/tasks.js";

const ALICE = "alice@example.com";
const PROMETHEUS_TEXT = /^text\/plain; version=0\.0\.4; charset=utf-8$/;

let broker: TestBroker;
let alice: string;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  broker = await startTestBroker();
  alice = await broker.devToken(ALICE);
  closers.push(() => broker.close());
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

// ---------------------------------------------------------------------------------------------
// Reading the exposition

interface Scrape {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string;
  /** The value of the one sample of `name` whose labels are exactly `labels`; 0 when absent. */
  value(name: string, labels?: Record<string, string>): number;
  /** The label sets of every sample of `name`. */
  labelsOf(name: string): Record<string, string>[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function samples(body: string) {
  return body
    .split("\n")
    .map((line) => SAMPLE.exec(line))
    .filter((m) => m !== null)
    .map((m) => ({
      name: m[1] as string,
      labels: Object.fromEntries([...(m[2] ?? "").matchAll(LABEL)].map((l) => [l[1], l[2]])),
      value: Number(m[3]),
    }));
}

async function scrape(target: TestBroker = broker): Promise<Scrape> {
  const res = await fetch(`${target.url}/metrics`);
  const body = await res.text();
  const all = samples(body);
  const same = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length &&
    Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    body,
    value(name, labels = {}) {
      const found = all.filter((s) => s.name === name && same(s.labels, labels));
      expect(found.length, `${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
      return found[0]?.value ?? 0;
    },
    labelsOf: (name) => all.filter((s) => s.name === name).map((s) => s.labels),
  };
}

const exchanges = (s: Scrape, outcome: string) => s.value("baton_exchanges_total", { outcome });
const approvals = (s: Scrape, event: string) => s.value("baton_approvals_total", { event });
const tasks = (s: Scrape, event: string) => s.value("baton_tasks_total", { event });
const requests = (s: Scrape, route: string, method: string, status: string) =>
  s.value("baton_http_request_duration_seconds_count", { route, method, status });

/** Rule 9 and bounded labels: none of these strings may appear anywhere in the exposition. */
function expectAbsent(body: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(3);
    expect(body.includes(secret), `"${secret.slice(0, 24)}…" in /metrics`).toBe(false);
  }
  expect(body).not.toMatch(/eyJ[\w-]+\.eyJ/);
}

// ---------------------------------------------------------------------------------------------

describe("/metrics", () => {
  it("counts POST /token exchanges by outcome and times them under the route pattern", async () => {
    const issued = await expectIssued(
      broker,
      exchange(broker, accessRequest(alice, "calendar", "calendar.read"), "orchestrator"),
    );
    await expectRefused(
      broker,
      exchange(broker, accessRequest(alice, "calendar", "flights.search"), "orchestrator"),
      400,
      "invalid_scope",
    );

    const s = await scrape();
    expect(s.status).toBe(200);
    expect(s.contentType).toMatch(PROMETHEUS_TEXT);
    expect(exchanges(s, "issued")).toBe(1);
    expect(exchanges(s, "invalid_scope")).toBe(1);
    expect(requests(s, "/token", "POST", "200")).toBe(1);
    expect(requests(s, "/token", "POST", "400")).toBe(1);
    expect(s.body).toContain(
      'baton_http_request_duration_seconds_bucket{le="0.001",route="/token",method="POST",status="200"}',
    );
    expect(s.body).toContain(
      'baton_http_request_duration_seconds_bucket{le="2.5",route="/token",method="POST",status="200"}',
    );
    // The process' own figures come along.
    expect(s.body).toContain("process_cpu_user_seconds_total");
    expect(s.body).toContain("nodejs_eventloop_lag_seconds");
    expect(s.value("baton_store_errors_total")).toBe(0);
    expectAbsent(s.body, [
      alice,
      issued.body.access_token,
      issued.claims.jti as string,
      ALICE,
      "alice",
      "orchestrator",
      broker.secrets.orchestrator as string,
    ]);
  });

  it("labels a request by its route pattern, never its raw path or method", async () => {
    const task = await startTask(broker, "orchestrator", alice, { scope: "calendar.read" });
    const ended = await endTask(broker, "orchestrator", task.task_id, alice);
    expect(ended.status).toBe(200);
    const unknown = await fetch(`${broker.url}/no/such/path-with-a-secret-inside`);
    expect(unknown.status).toBe(404);
    const odd = await fetch(`${broker.url}/token`, { method: "PURGE" });
    expect(odd.status).toBe(404);

    const s = await scrape();
    expect(requests(s, "/tasks", "POST", "201")).toBe(1);
    expect(requests(s, "/tasks/:id/end", "POST", "200")).toBe(1);
    expect(requests(s, "unmatched", "GET", "404")).toBe(1);
    expect(requests(s, "unmatched", "other", "404")).toBe(1);
    expect(tasks(s, "started")).toBe(1);
    expect(tasks(s, "ended")).toBe(1);
    // Only patterns and the fixed words: no task id, no raw path, no made-up method.
    const routes = new Set(
      s.labelsOf("baton_http_request_duration_seconds_count").map((l) => l.route),
    );
    expect([...routes].sort()).toEqual(["/tasks", "/tasks/:id/end", "unmatched"]);
    expectAbsent(s.body, [task.task_id, "path-with-a-secret-inside", "PURGE", alice]);
  });

  it("counts exchanges through the MCP door by the same mechanism", async () => {
    const bearer = await broker.devToken(ALICE, { agent: "orchestrator" });
    const client: Client = await connectHttp(broker.url, bearer);
    closers.push(() => client.close());
    const before = await scrape();

    const granted = await callOk(client, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
    });
    await callRefused(
      client,
      "request_token",
      { api: "calendar", scopes: ["flights.search"] },
      "invalid_scope",
    );
    const task = await callOk(client, "start_task", {
      purpose: "plan a trip",
      scopes: ["calendar.read"],
    });
    await callOk(client, "end_task", { task_id: task.task_id });

    const after = await scrape();
    expect(exchanges(after, "issued") - exchanges(before, "issued")).toBe(1);
    expect(exchanges(after, "invalid_scope") - exchanges(before, "invalid_scope")).toBe(1);
    expect(tasks(after, "started") - tasks(before, "started")).toBe(1);
    expect(tasks(after, "ended") - tasks(before, "ended")).toBe(1);
    // The MCP endpoint is timed too, under its route.
    expect(after.labelsOf("baton_http_request_duration_seconds_count")).toContainEqual({
      route: "/mcp",
      method: "POST",
      status: "200",
    });
    expectAbsent(after.body, [bearer, granted.access_token, task.task_id, ALICE]);
  });

  it("counts approvals requested, approved, denied and redeemed", async () => {
    const write = (extra: Record<string, string> = {}) =>
      accessRequest(alice, "calendar", "calendar.write", extra);
    const first = await requestApproval(broker, "orchestrator", write({ reason: "offsite" }));
    // Another grant (another ttl): an identical request would get the first approval again.
    const second = await requestApproval(
      broker,
      "orchestrator",
      write({ reason: "lunch", ttl_seconds: "120" }),
    );
    let s = await scrape();
    expect(approvals(s, "requested")).toBe(2);
    expect(approvals(s, "approved")).toBe(0);
    // Waiting for a human is a refusal of its own code, not an issue.
    expect(exchanges(s, "authorization_pending")).toBe(2);
    expect(exchanges(s, "issued")).toBe(0);

    await decideAs(broker, ALICE, first.approval_id, "approve");
    await decideAs(broker, ALICE, second.approval_id, "deny");
    const issued = await expectIssued(
      broker,
      exchange(
        broker,
        write({ reason: "offsite", approval_id: first.approval_id }),
        "orchestrator",
      ),
    );

    s = await scrape();
    expect(approvals(s, "requested")).toBe(2);
    expect(approvals(s, "approved")).toBe(1);
    expect(approvals(s, "denied")).toBe(1);
    expect(approvals(s, "redeemed")).toBe(1);
    expect(exchanges(s, "issued")).toBe(1);
    expectAbsent(s.body, [
      first.approval_id,
      second.approval_id,
      issued.body.access_token,
      issued.claims.jti as string,
      alice,
      ALICE,
      "offsite",
    ]);
  });

  it("is not served without metrics: the HTTP door works as before", async () => {
    const { deps } = broker;
    const app = createApp({
      broker: createBroker(deps),
      store: deps.store,
      clock: deps.clock,
      assertionAudiences: [],
      logFailure: () => {},
    });
    expect((await app.request("/metrics")).status).toBe(404);
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/readyz")).status).toBe(200);
  });
});

describe("/readyz and /healthz", () => {
  it("is ready while the store answers, and unavailable (503, Retry-After) once it cannot", async () => {
    const ready = await fetch(`${broker.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    expect(ready.headers.get("cache-control")).toBe("no-store");

    await broker.store.close();
    const down = await fetch(`${broker.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: "unavailable" });
    expect(down.headers.get("retry-after")).toBe("1");
    expect(down.headers.get("cache-control")).toBe("no-store");
    // Fail closed (rule 8): no token either.
    const refused = await exchange(
      broker,
      accessRequest(alice, "calendar", "calendar.read"),
      "orchestrator",
    );
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toBe("temporarily_unavailable");

    // Liveness does not depend on the store: restarting the node would not bring it back.
    const alive = await fetch(`${broker.url}/healthz`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({
      status: "ok",
      policy_version: broker.policy.version,
    });
    const s = await scrape();
    expect(requests(s, "/readyz", "GET", "503")).toBe(1);
    expect(exchanges(s, "temporarily_unavailable")).toBe(1);
  });

  describe("on Redis", () => {
    let redis: TestRedis;
    afterEach(async () => {
      await redis?.stop();
    });

    it("turns unavailable quickly when Redis dies, counts the store errors, and ready again when it returns", async () => {
      redis = await startRedis();
      const node = await startTestBroker({ store: redis.url });
      try {
        await killAndRestart(node);
      } finally {
        await node.close();
      }
    });

    async function killAndRestart(node: TestBroker): Promise<void> {
      const readyz = () => fetch(`${node.url}/readyz`);
      expect((await readyz()).status).toBe(200);
      expect((await scrape(node)).value("baton_store_errors_total")).toBe(0);

      await redis.kill();
      const started = Date.now();
      const down = await readyz();
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: "unavailable" });
      expect(down.headers.get("retry-after")).toBe("1");
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      expect((await scrape(node)).value("baton_store_errors_total")).toBeGreaterThan(0);

      // The same broker, no restart: the client reconnects and the node is ready again.
      await redis.restart();
      await eventually(async () => (await readyz()).status === 200, 5_000);
    }
  });
});

/** Real time, for a real Redis reconnecting: polls until true or the deadline. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still false after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
