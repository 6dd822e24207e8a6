/**
 * Issue 16 item 4 across nodes: two brokers on one store (one SQLite file, one real Redis) see
 * one pending approval per identical request, even when the requests race across both nodes,
 * and one cap of pending approvals per agent. The claims are the store's `add` (design §7: every
 * adapter passes one contract suite), so what holds in one process holds across processes.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, accessRequest, requestApproval } from "../helpers/approvals.js";
import { exchange, expectRefused } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

describe.each([
  ["one SQLite file", "sqlite"],
  ["one real Redis", "redis"],
])("two brokers on %s: one approval per identical request, one cap", (_name, kind) => {
  let dir: string;
  let redis: TestRedis | undefined;
  let a: TestBroker;
  let b: TestBroker;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-dedupe-nodes-"));
    redis = kind === "redis" ? await startRedis() : undefined;
    const store = redis ? redis.url : `sqlite://${dir}/b.db`;
    // One after the other: the second opens the key ring the first has written.
    a = await startTestBroker({ store });
    b = await startTestBroker({ store });
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Alice's calendar.write request on `node` (each node is its own issuer of her token). */
  const write = async (node: TestBroker, ttl: number) =>
    accessRequest(
      await node.devToken(ALICE, { agent: "orchestrator" }),
      "calendar",
      "calendar.write",
      { ttl_seconds: `${ttl}` },
    );
  const requested = () => [...a.events, ...b.events].filter((e) => e.type === "approval.requested");

  it("racing: 8 identical requests split across both nodes open one approval", async () => {
    const forms = { a: await write(a, 300), b: await write(b, 300) };
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? requestApproval(a, "orchestrator", forms.a)
          : requestApproval(b, "orchestrator", forms.b),
      ),
    );
    expect(new Set(answers.map((x) => x.approval_id)).size).toBe(1);
    expect(requested()).toHaveLength(1);
  });

  it("the cap is one count of pending approvals across both nodes", async () => {
    const max = a.policy.broker.maxOpenApprovals;
    // One is pending already (the race above): max - 1 more, alternating nodes.
    for (let i = 1; i < max; i++) {
      const node = i % 2 === 0 ? a : b;
      await requestApproval(node, "orchestrator", await write(node, 60 + i));
    }
    for (const node of [a, b]) {
      await expectRefused(
        node,
        exchange(node, await write(node, 60 + max), "orchestrator"),
        429,
        "slow_down",
      );
    }
    expect(requested()).toHaveLength(max);
  });
});
