/**
 * Issue 16 item 4, design §3.5: an identical pending request (same digest: subject, client,
 * chain, API, scopes, ttl, task) gets the same approval instead of opening another, even when
 * the requests arrive at once (the store's `add`, on memory and SQLite); once decided, an
 * identical request asks a human anew. The cap `max_open_approvals` counts pending approvals
 * only: decided and expired ones free their slot; past it, 429 `slow_down` over HTTP, and over
 * MCP a hint that says so.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createBroker } from "../../src/exchange/broker.js";
import { embeddedSession } from "../../src/mcp/embedded-session.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { ALICE, accessRequest, requestApproval } from "../helpers/approvals.js";
import { exchange, expectRefused, issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { callOk, callRefused } from "../helpers/mcp.js";
import { endTask, postTask } from "../helpers/tasks.js";

let broker: TestBroker | undefined;
let dir: string | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function boot(store?: string): Promise<TestBroker> {
  broker = await startTestBroker(store === undefined ? {} : { store });
  return broker;
}

/** Alice's calendar.write request as the orchestrator, `ttl` making distinct requests. */
async function write(b: TestBroker, ttl?: number) {
  const alice = await b.devToken(ALICE, { agent: "orchestrator" });
  return accessRequest(alice, "calendar", "calendar.write", ttl ? { ttl_seconds: `${ttl}` } : {});
}

const requested = (b: TestBroker) => b.events.filter((e) => e.type === "approval.requested");
const operator = (b: TestBroker) => createBroker(b.deps);

describe("an identical pending request gets the same approval", () => {
  it("asked twice: the same approval_id, one approval.requested event", async () => {
    const b = await boot();
    const first = await requestApproval(b, "orchestrator", await write(b));
    const again = await requestApproval(b, "orchestrator", await write(b));
    expect(again.approval_id).toBe(first.approval_id);
    expect(requested(b)).toHaveLength(1);
    // Another ttl is another request: its own approval.
    const other = await requestApproval(b, "orchestrator", await write(b, 120));
    expect(other.approval_id).not.toBe(first.approval_id);
  });

  it.each(["memory", "sqlite"])("asked five times at once (%s): one approval", async (kind) => {
    dir ??= await mkdtemp(join(tmpdir(), "baton-dedupe-"));
    const b = await boot(kind === "memory" ? undefined : `sqlite://${dir}/dedupe.db`);
    const form = await write(b);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => requestApproval(b, "orchestrator", form)),
    );
    expect(new Set(answers.map((a) => a.approval_id)).size).toBe(1);
    expect(requested(b)).toHaveLength(1);
  });

  it("once decided, an identical request opens a new approval", async () => {
    const b = await boot();
    const first = await requestApproval(b, "orchestrator", await write(b));
    await operator(b).decideAs({ operator: true }, first.approval_id, "denied");
    const next = await requestApproval(b, "orchestrator", await write(b));
    expect(next.approval_id).not.toBe(first.approval_id);
    expect(requested(b)).toHaveLength(2);
  });

  it("start_task asked twice while its ceiling waits: the same task and approval", async () => {
    const b = await boot();
    const alice = await b.devToken(ALICE, { agent: "orchestrator" });
    const start = async () => {
      const res = await postTask(b, "orchestrator", alice, {
        scope: "calendar.read calendar.write",
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { task_id: string; approval_id: string; status: string };
    };
    const first = await start();
    const again = await start();
    expect(first.status).toBe("approval_required");
    expect(again).toMatchObject({ task_id: first.task_id, approval_id: first.approval_id });
    expect(requested(b)).toHaveLength(1);
    // Ended meanwhile: the same request opens a task of its own, never hands back an ended one.
    expect((await endTask(b, "orchestrator", first.task_id, alice)).status).toBe(200);
    const fresh = await start();
    expect(fresh.task_id).not.toBe(first.task_id);
    expect(fresh.status).toBe("approval_required");
  });
});

describe("the cap counts pending approvals only", () => {
  it("after 10 decided approvals, an 11th request still opens", async () => {
    const b = await boot();
    const max = b.policy.broker.maxOpenApprovals;
    expect(max).toBe(10);
    for (let i = 0; i < max; i++) {
      const { approval_id } = await requestApproval(b, "orchestrator", await write(b, 60 + i));
      const decision = i % 2 === 0 ? "approved" : "denied";
      await operator(b).decideAs({ operator: true }, approval_id, decision);
    }
    await requestApproval(b, "orchestrator", await write(b, 60 + max));
    expect(requested(b)).toHaveLength(max + 1);
  });

  it("an expired approval frees its slot too", async () => {
    const b = await boot();
    const max = b.policy.broker.maxOpenApprovals;
    for (let i = 0; i < max; i++) await requestApproval(b, "orchestrator", await write(b, 60 + i));
    b.clock.advance(b.policy.broker.approvalTtl);
    await requestApproval(b, "orchestrator", await write(b, 60 + max));
  });

  it("11 pending: 429 slow_down with Retry-After over HTTP; over MCP, a hint that says why", async () => {
    const b = await boot();
    const max = b.policy.broker.maxOpenApprovals;
    for (let i = 0; i < max; i++) await requestApproval(b, "orchestrator", await write(b, 60 + i));
    const { res } = await expectRefused(
      b,
      exchange(b, await write(b, 60 + max), "orchestrator"),
      429,
      "slow_down",
    );
    expect(res.headers.get("retry-after")).toBe(String(b.policy.broker.approvalTtl));
    expect(requested(b)).toHaveLength(max);
    // The same request again while the others still wait: the one it already has, no slot.
    const again = await requestApproval(b, "orchestrator", await write(b, 60));
    expect(requested(b).map((e) => (e as { approval: string }).approval)).toContain(
      again.approval_id,
    );

    const alice = await b.devToken(ALICE, { agent: "orchestrator" });
    const session = embeddedSession(
      createBroker(b.deps),
      { agentId: "orchestrator" },
      async () => alice,
    );
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await createMcpServer(session).connect(serverSide);
    const client = new Client({ name: "cap-test", version: "0.0.0" });
    await client.connect(clientSide);
    const issued = issuedCount(b);
    const { hint } = await callRefused(
      client,
      "request_token",
      { api: "calendar", scopes: ["calendar.write"], ttl_seconds: 30 },
      "slow_down",
    );
    expect(issuedCount(b)).toBe(issued);
    expect(hint).toContain("only pending ones count");
    expect(hint).toContain("decided or expired frees a slot");
    expect(hint).toContain(`${b.policy.broker.approvalTtl} s`);
    // A decision frees a slot: the same call now opens an approval.
    const [oldest] = requested(b) as { approval: string }[];
    await operator(b).decideAs({ operator: true }, oldest?.approval as string, "denied");
    const out = await callOk(client, "request_token", {
      api: "calendar",
      scopes: ["calendar.write"],
      ttl_seconds: 30,
    });
    expect(out.status).toBe("approval_required");
    await client.close();
  });
});
