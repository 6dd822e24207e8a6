/**
 * Rate limits per agent and per subject (issue 6, item 3; design §3.6): set in policy, counted
 * in the store so every node shares them, refused with `429 slow_down` and `Retry-After`.
 *
 * - Per agent: exactly N attempts pass per window, refused ones count too (no free probing);
 *   the N+1st is a 429 with the seconds left in the window, no-store, no token, audited.
 * - The window rolls over with the clock; an agent's own limit beats the broker's default.
 * - Per subject: one user's count spans every agent acting for them; another user is untouched.
 * - Races: 50 concurrent requests against a limit of 10 issue exactly 10 tokens.
 * - Two brokers on one store (SQLite file, real Redis) share one count: N in all, not N each,
 *   also when racing.
 * - The MCP door: request_token past the limit is an isError `slow_down` whose hint says how
 *   long to wait; start_task counts against the same limit.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exchange,
  expectIssued,
  expectRefused,
  type Form,
  issuedCount,
} from "../helpers/assertions.js";
import { sha256Hex, startTestBroker, T0, type TestBroker } from "../helpers/broker.js";
import { ALICE, BOB, callOk, callRefused, connectHttp } from "../helpers/mcp.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

type Limits = { per_agent?: string; per_subject?: string };

/** A broker whose policy sets `broker.rate_limit` (and, optionally, agents' own limits). */
function brokerWith(
  limits: Limits,
  agentLimits: Record<string, string> = {},
  store?: string,
): Promise<TestBroker> {
  return startTestBroker({
    ...(store === undefined ? {} : { store }),
    editPolicy: (data) => {
      data.broker.rate_limit = limits;
      for (const [agent, limit] of Object.entries(agentLimits)) {
        data.agents[agent].rate_limit = limit;
      }
    },
  });
}

/** An access token request for docs.read, which orchestrator and researcher may both hold. */
const docsRead = (subjectToken: string): Form => ({
  subject_token: subjectToken,
  audience: "docs",
  scope: "docs.read",
});

/** Asserts the 429 of design §3.6 and returns its Retry-After, in seconds. */
async function expectSlowDown(
  broker: TestBroker,
  response: Promise<Response>,
  rule: string,
): Promise<number> {
  const mark = broker.events.length;
  const { res, body } = await expectRefused(broker, response, 429, "slow_down");
  expect(body.error_description).toBe("Too many requests, slow down");
  const denied = broker.events.slice(mark).filter((e) => e.type === "exchange.denied");
  expect(denied).toEqual([expect.objectContaining({ error: "slow_down", rule })]);
  const retryAfter = res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
  return Number(retryAfter);
}

describe("per agent (broker.rate_limit.per_agent)", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await brokerWith({ per_agent: "3/1m" });
  });
  afterAll(() => broker?.close());

  it("exactly N pass, then 429 slow_down with the seconds left in the window, audited", async () => {
    expect(T0 % 60, "the test clock starts on a window boundary").toBe(0);
    broker.clock.advance(15);
    const token = await broker.devToken(ALICE);
    for (let i = 0; i < 3; i++)
      await expectIssued(broker, exchange(broker, docsRead(token), "orchestrator"));
    const retryAfter = await expectSlowDown(
      broker,
      exchange(broker, docsRead(token), "orchestrator"),
      "rate_limit.agent",
    );
    expect(retryAfter).toBe(45);
    // Each refused attempt counts again: still refused, with less time left.
    broker.clock.advance(40);
    expect(
      await expectSlowDown(
        broker,
        exchange(broker, docsRead(token), "orchestrator"),
        "rate_limit.agent",
      ),
    ).toBe(5);
    // Another agent has its own count.
    await expectIssued(broker, exchange(broker, docsRead(token), "researcher"));
  });

  it("the next window starts a fresh count", async () => {
    broker.clock.advance(5); // T0 + 60: the next window
    const token = await broker.devToken(ALICE);
    for (let i = 0; i < 3; i++)
      await expectIssued(broker, exchange(broker, docsRead(token), "orchestrator"));
    expect(
      await expectSlowDown(
        broker,
        exchange(broker, docsRead(token), "orchestrator"),
        "rate_limit.agent",
      ),
    ).toBe(60);
  });

  it("refused attempts count too: probing with bad tokens spends the limit", async () => {
    broker.clock.advance(60);
    const token = await broker.devToken(ALICE);
    // A bad subject token and a scope researcher lacks: both refused, both counted.
    await expectRefused(
      broker,
      exchange(broker, docsRead("not-a-token"), "researcher"),
      400,
      "invalid_request",
    );
    await expectRefused(
      broker,
      exchange(broker, { ...docsRead(token), scope: "docs.write" }, "researcher"),
      400,
      "invalid_scope",
    );
    await expectIssued(broker, exchange(broker, docsRead(token), "researcher"));
    await expectSlowDown(
      broker,
      exchange(broker, docsRead(token), "researcher"),
      "rate_limit.agent",
    );
  });

  it("50 concurrent requests against a limit of 10 issue exactly 10 tokens", async () => {
    const racing = await brokerWith({ per_agent: "10/1m" });
    try {
      const token = await racing.devToken(ALICE);
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => exchange(racing, docsRead(token), "orchestrator")),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(40);
      expect(issuedCount(racing)).toBe(10);
      for (const r of responses.filter((r) => r.status === 429)) {
        expect(r.headers.get("retry-after")).toBe("60");
        expect(((await r.json()) as { error: string }).error).toBe("slow_down");
      }
    } finally {
      await racing.close();
    }
  });
});

describe("an agent's own rate_limit overrides per_agent", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await brokerWith({ per_agent: "2/1m" }, { orchestrator: "5/30s" });
  });
  afterAll(() => broker?.close());

  it("orchestrator gets its own 5 per 30s, researcher the broker's 2 per minute", async () => {
    const token = await broker.devToken(ALICE);
    for (let i = 0; i < 5; i++)
      await expectIssued(broker, exchange(broker, docsRead(token), "orchestrator"));
    expect(
      await expectSlowDown(
        broker,
        exchange(broker, docsRead(token), "orchestrator"),
        "rate_limit.agent",
      ),
    ).toBe(30);
    for (let i = 0; i < 2; i++)
      await expectIssued(broker, exchange(broker, docsRead(token), "researcher"));
    expect(
      await expectSlowDown(
        broker,
        exchange(broker, docsRead(token), "researcher"),
        "rate_limit.agent",
      ),
    ).toBe(60);
  });
});

describe("per subject (broker.rate_limit.per_subject)", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await brokerWith({ per_subject: "3/1m" });
  });
  afterAll(() => broker?.close());

  it("one user's count spans every agent acting for them", async () => {
    broker.clock.advance(20);
    const alice = await broker.devToken(ALICE);
    await expectIssued(broker, exchange(broker, docsRead(alice), "orchestrator"));
    await expectIssued(broker, exchange(broker, docsRead(alice), "researcher"));
    await expectIssued(broker, exchange(broker, docsRead(alice), "orchestrator"));
    const mark = broker.events.length;
    expect(
      await expectSlowDown(
        broker,
        exchange(broker, docsRead(alice), "researcher"),
        "rate_limit.subject",
      ),
    ).toBe(40);
    // Once the subject is known, the refusal is audited with it.
    expect(broker.events.slice(mark)).toContainEqual(
      expect.objectContaining({ type: "exchange.denied", subject: ALICE, agent: "researcher" }),
    );
    // Bob is someone else: the same agents still work for him.
    const bob = await broker.devToken(BOB);
    await expectIssued(broker, exchange(broker, docsRead(bob), "researcher"));
  });

  it("a subject written with any characters is counted as itself", async () => {
    broker.clock.advance(60);
    const odd = "user:with/odd chars\u00e9:rate:agent:x";
    const token = await broker.devToken(odd);
    for (let i = 0; i < 3; i++)
      await expectIssued(broker, exchange(broker, docsRead(token), "orchestrator"));
    await expectSlowDown(
      broker,
      exchange(broker, docsRead(token), "orchestrator"),
      "rate_limit.subject",
    );
    // Its SHA-256 keys the count (four attempts so far), so no key holds the raw `sub`.
    expect(await broker.store.get(`rate:subject:${sha256Hex(odd)}:60s:${T0 + 60}`)).toBe(4);
  });
});

describe.each([
  ["one SQLite file", "sqlite"],
  ["one real Redis", "redis"],
])("two brokers on %s share one count", (_name, kind) => {
  let dir: string;
  let redis: TestRedis | undefined;
  let a: TestBroker;
  let b: TestBroker;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-rate-"));
    redis = kind === "redis" ? await startRedis() : undefined;
    const store = redis ? redis.url : `sqlite://${dir}/b.db`;
    // One after the other: the second opens the key ring the first has written.
    a = await brokerWith({ per_agent: "4/1m", per_subject: "6/1m" }, {}, store);
    b = await brokerWith({ per_agent: "4/1m", per_subject: "6/1m" }, {}, store);
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("per agent: 4 across both nodes, not 4 each", async () => {
    // Each broker is its own issuer, so each user token comes from the node it is sent to.
    const onA = await a.devToken(ALICE);
    const onB = await b.devToken(BOB);
    for (let i = 0; i < 2; i++) {
      await expectIssued(a, exchange(a, docsRead(onA), "orchestrator"));
      await expectIssued(b, exchange(b, docsRead(onB), "orchestrator"));
    }
    await expectSlowDown(a, exchange(a, docsRead(onA), "orchestrator"), "rate_limit.agent");
    await expectSlowDown(b, exchange(b, docsRead(onB), "orchestrator"), "rate_limit.agent");
  });

  it("per subject: 6 for one user across both nodes and two agents", async () => {
    a.clock.advance(60);
    b.clock.advance(60);
    const onA = await a.devToken(ALICE);
    const onB = await b.devToken(ALICE);
    // orchestrator 2 + 1 and researcher 2 + 1: under each agent's 4, six for alice in all.
    await expectIssued(a, exchange(a, docsRead(onA), "orchestrator"));
    await expectIssued(a, exchange(a, docsRead(onA), "orchestrator"));
    await expectIssued(b, exchange(b, docsRead(onB), "orchestrator"));
    await expectIssued(b, exchange(b, docsRead(onB), "researcher"));
    await expectIssued(b, exchange(b, docsRead(onB), "researcher"));
    await expectIssued(a, exchange(a, docsRead(onA), "researcher"));
    // Each agent's 4th attempt: within its own limit, past alice's.
    await expectSlowDown(a, exchange(a, docsRead(onA), "researcher"), "rate_limit.subject");
    await expectSlowDown(b, exchange(b, docsRead(onB), "orchestrator"), "rate_limit.subject");
  });

  it("racing: 40 concurrent requests split across both nodes issue exactly 4 tokens", async () => {
    a.clock.advance(60);
    b.clock.advance(60);
    const onA = await a.devToken(ALICE);
    const onB = await b.devToken(BOB);
    const before = issuedCount(a) + issuedCount(b);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? exchange(a, docsRead(onA), "orchestrator")
          : exchange(b, docsRead(onB), "orchestrator"),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(36);
    expect(issuedCount(a) + issuedCount(b) - before).toBe(4);
  });
});

describe("the MCP door", () => {
  let broker: TestBroker;
  let client: Client;
  beforeAll(async () => {
    broker = await brokerWith({ per_agent: "2/1m" });
    client = await connectHttp(broker.url, await broker.devToken(ALICE, { agent: "orchestrator" }));
  });
  afterAll(async () => {
    await client?.close();
    await broker?.close();
  });

  it("request_token past the limit is an isError slow_down that says how long to wait", async () => {
    broker.clock.advance(10);
    const ask = { api: "docs", scopes: ["docs.read"] };
    await callOk(client, "request_token", ask);
    await callOk(client, "request_token", ask);
    const before = issuedCount(broker);
    const refusal = await callRefused(client, "request_token", ask, "slow_down");
    expect(refusal.hint).toBe(
      "Too many requests: wait 50 seconds before asking again. Retrying sooner only counts against the limit.",
    );
    expect(issuedCount(broker)).toBe(before);
    expect(broker.events.at(-1)).toMatchObject({
      type: "exchange.denied",
      error: "slow_down",
      rule: "rate_limit.agent",
      agent: "orchestrator",
    });
  });

  it("start_task counts against the same limit", async () => {
    broker.clock.advance(50); // the next window
    await callOk(client, "request_token", { api: "docs", scopes: ["docs.read"] });
    await callOk(client, "start_task", { purpose: "read up", scopes: ["docs.read"] });
    await callRefused(
      client,
      "start_task",
      { purpose: "read up again", scopes: ["docs.read"] },
      "slow_down",
    );
  });
});
