/**
 * Online guessing of a client secret (RFC 6749 §10.10, RFC 6819 §5.1.4.2.3): with
 * `broker.rate_limit.client_auth_failures`, each failed client authentication counts against
 * the client id it claimed, in the store (so across nodes). Past the limit, every
 * authentication as that client is refused with 429 `slow_down` until the window ends, the
 * right secret included, so a guess that happens to be right is not told apart. Nothing is
 * issued; every throttled attempt is audited. Other clients are untouched; unknown ids count
 * too; the count spans the HTTP endpoints that authenticate clients.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exchange,
  expectIssued,
  expectRefused,
  issuedCount,
  postForm,
} from "../helpers/assertions.js";
import { startTestBroker, T0, type TestBroker } from "../helpers/broker.js";
import { ALICE } from "../helpers/mcp.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

const docsRead = (subjectToken: string) => ({
  subject_token: subjectToken,
  audience: "docs",
  scope: "docs.read",
});
const wrong = (id: string) => ({ id, secret: "not-the-secret" });

const throttled = (store?: string) =>
  startTestBroker({
    ...(store === undefined ? {} : { store }),
    editPolicy: (data) => {
      data.broker.rate_limit = { client_auth_failures: "3/1m" };
    },
  });

let broker: TestBroker;
beforeAll(async () => {
  broker = await throttled();
});
afterAll(() => broker?.close());

/** Asserts the 429 of design §3.6, audited as a throttled client authentication. */
async function expectThrottled(response: Promise<Response>, clientId: string): Promise<number> {
  const mark = broker.events.length;
  const { res, body } = await expectRefused(broker, response, 429, "slow_down");
  expect(body.error_description).toBe("Too many requests, slow down");
  expect(broker.events.slice(mark)).toEqual([
    expect.objectContaining({
      type: "client.auth_failed",
      rule: "rate_limit.client_auth",
      client_id: clientId,
    }),
  ]);
  const retryAfter = res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
  return Number(retryAfter);
}

describe("failed client authentication (broker.rate_limit.client_auth_failures)", () => {
  it("N failures are 401 invalid_client; then 429 slow_down, even with the right secret", async () => {
    expect(T0 % 60, "the test clock starts on a window boundary").toBe(0);
    broker.clock.advance(10);
    const token = await broker.devToken(ALICE);
    for (let i = 0; i < 3; i++) {
      await expectRefused(
        broker,
        exchange(broker, docsRead(token), wrong("orchestrator")),
        401,
        "invalid_client",
      );
    }
    expect(
      await expectThrottled(
        exchange(broker, docsRead(token), wrong("orchestrator")),
        "orchestrator",
      ),
    ).toBe(50);
    // The right secret now gets the same answer: a correct guess is not told apart.
    expect(
      await expectThrottled(exchange(broker, docsRead(token), "orchestrator"), "orchestrator"),
    ).toBe(50);
    // A throttled attempt is not counted again, and the other endpoints refuse it too.
    expect(
      await expectThrottled(
        postForm(broker, "/introspect", { token }, "orchestrator"),
        "orchestrator",
      ),
    ).toBe(50);
  });

  it("another client is untouched", async () => {
    const token = await broker.devToken(ALICE);
    await expectIssued(broker, exchange(broker, docsRead(token), "researcher"));
  });

  it("the window ends: the client is back with its right secret", async () => {
    broker.clock.advance(50); // T0 + 60: the next window
    const token = await broker.devToken(ALICE);
    await expectIssued(broker, exchange(broker, docsRead(token), "orchestrator"));
  });

  it("failures at any endpoint count; unknown client ids are counted and throttled alike", async () => {
    broker.clock.advance(60);
    const token = await broker.devToken(ALICE);
    await expectRefused(
      broker,
      postForm(broker, "/introspect", { token }, wrong("researcher")),
      401,
      "invalid_client",
    );
    await expectRefused(
      broker,
      postForm(broker, "/revoke", { token }, wrong("researcher")),
      401,
      "invalid_client",
    );
    await expectRefused(
      broker,
      exchange(broker, docsRead(token), wrong("researcher")),
      401,
      "invalid_client",
    );
    await expectThrottled(exchange(broker, docsRead(token), "researcher"), "researcher");

    for (let i = 0; i < 3; i++) {
      await expectRefused(
        broker,
        exchange(broker, docsRead(token), wrong("no-such-agent")),
        401,
        "invalid_client",
      );
    }
    await expectThrottled(
      exchange(broker, docsRead(token), wrong("no-such-agent")),
      "no-such-agent",
    );
  });
});

describe("two brokers on one real Redis", () => {
  let redis: TestRedis;
  let a: TestBroker;
  let b: TestBroker;
  beforeAll(async () => {
    redis = await startRedis();
    a = await throttled(redis.url);
    b = await throttled(redis.url);
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it("failures on one node count on the other: three on A, and B refuses the right secret", async () => {
    const token = await b.devToken(ALICE);
    for (let i = 0; i < 3; i++) {
      await expectRefused(
        a,
        exchange(a, docsRead(token), wrong("orchestrator")),
        401,
        "invalid_client",
      );
    }
    const { res } = await expectRefused(
      b,
      exchange(b, docsRead(token), "orchestrator"),
      429,
      "slow_down",
    );
    expect(res.headers.get("retry-after")).toMatch(/^[1-9][0-9]*$/);
  });

  it("the store down: 503 temporarily_unavailable, no token, whatever the credentials", async () => {
    const token = await b.devToken(ALICE);
    await redis.kill();
    for (const agent of ["researcher", wrong("researcher")] as const) {
      const before = issuedCount(b);
      const res = await exchange(b, docsRead(token), agent);
      const body = (await res.json()) as Record<string, unknown>;
      expect({ status: res.status, error: body.error }).toEqual({
        status: 503,
        error: "temporarily_unavailable",
      });
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(body).not.toHaveProperty("access_token");
      expect(issuedCount(b)).toBe(before);
    }
  });
});
