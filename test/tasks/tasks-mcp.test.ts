/**
 * Issue 4 through MCP: the SDK `Client` drives `/mcp` of a real broker over Streamable HTTP
 * (a development token naming the agent as the bearer), and once `baton mcp` over stdio.
 *
 * - start_task with the ceiling as scopes, and from a policy template without approval.
 * - whoami and list_apis with task_id show only what the ceiling allows, and the task (ceiling,
 *   tokens left, deadline as ISO 8601).
 * - request_token and delegate with task_id; flight-booker, in its own session, redeems the
 *   delegation token and delegates on to researcher, who redeems that in its own: every token
 *   carries `txn`. POST /whoami on the delegation token shows the task without task_id.
 * - Refusals are isError results whose hints name the next call; end_task leaves every token of the
 *   tree inactive and is idempotent.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { Children, TEST_POLICIES } from "../helpers/cli-process.js";
import {
  ALICE,
  BOB,
  callOk,
  callRefused,
  connectHttp,
  connectStdio,
  decode,
} from "../helpers/mcp.js";
import { introspect, whoami } from "../helpers/tasks.js";

/** Spawning a node process takes a second or so. */
const SPAWN_TIMEOUT = 60_000;

const CEILING = ["calendar.read", "flights.search", "docs.read"];

let broker: TestBroker;
const clients: Client[] = [];
const children = new Children();

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.tasks = {
        reading: {
          description: "Read up before a trip",
          ceiling: ["calendar.read", "docs.read"],
          max_ttl: "20m",
          max_tokens: 4,
        },
      };
    },
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await broker?.close();
  await children.cleanup();
});

/** A session for `agent` acting for `user`: the bearer is the user's token naming the agent. */
async function session(agent: string, user = ALICE): Promise<Client> {
  const client = await connectHttp(broker.url, await broker.devToken(user, { agent }));
  clients.push(client);
  return client;
}

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

/** `apis` (whoami, list_apis) or the core's API views as [api, scopes] pairs. */
const offered = (apis: { api?: string; id?: string; scopes: (string | { name: string })[] }[]) =>
  apis.map((a) => [a.api ?? a.id, a.scopes.map((s) => (typeof s === "string" ? s : s.name))]);

describe("MCP over Streamable HTTP: a task from start_task to end_task", () => {
  let orchestrator: Client;
  let booker: Client;
  let researcher: Client;
  let taskId: string;
  let deadline: number;
  /** Every token issued in the task, by name. */
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    orchestrator = await session("orchestrator");
    booker = await session("flight-booker");
    researcher = await session("researcher");
  });

  it("start_task opens a task with the ceiling as scopes", async () => {
    const now = broker.clock.now();
    const task = await callOk(orchestrator, "start_task", {
      purpose: "plan alice's trip",
      scopes: CEILING,
      ttl_seconds: 900,
      max_tokens: 6,
    });
    expect(task).toEqual({
      task_id: expect.stringMatching(/^tsk_/),
      purpose: "plan alice's trip",
      ceiling: CEILING,
      expires_at: iso(now + 900),
      max_tokens: 6,
      tokens_left: 6,
      status: "active",
    });
    taskId = task.task_id;
    deadline = now + 900;
  });

  it("whoami and list_apis with task_id show only what the ceiling allows, and the task", async () => {
    const me = await callOk(orchestrator, "whoami", { task_id: taskId });
    expect(me).toMatchObject({
      subject: ALICE,
      agent: "orchestrator",
      chain: ["orchestrator"],
      expires_at: iso(deadline),
      task: {
        task_id: taskId,
        ceiling: CEILING,
        expires_at: iso(deadline),
        max_tokens: 6,
        tokens_left: 6,
        status: "active",
      },
    });
    expect(offered(me.apis)).toEqual([
      ["calendar", ["calendar.read"]],
      ["flights", ["flights.search"]],
      ["docs", ["docs.read"]],
    ]);
    const listed = await callOk(orchestrator, "list_apis", { task_id: taskId });
    expect(offered(listed.apis)).toEqual(offered(me.apis));

    // Without task_id, the session is not in the task and sees all its policy allows.
    const outside = await callOk(orchestrator, "whoami");
    expect(outside.task).toBeUndefined();
    expect(offered(outside.apis)).toContainEqual(["docs", ["docs.read", "docs.write"]]);
  });

  it("request_token and delegate with task_id issue inside the task", async () => {
    const access = await callOk(orchestrator, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
      task_id: taskId,
    });
    expect(decode(access.access_token)).toMatchObject({
      txn: taskId,
      scope: "calendar.read",
      act: { sub: "orchestrator" },
    });
    tokens.orchestratorAccess = access.access_token;

    const delegation = await callOk(orchestrator, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search", "docs.read"],
      ttl_seconds: 3600,
      task_id: taskId,
    });
    // Asked for an hour: the task ends in fifteen minutes (rule 2).
    expect(delegation.expires_in).toBe(deadline - broker.clock.now());
    expect(decode(delegation.delegation_token)).toMatchObject({
      txn: taskId,
      exp: deadline,
      may_act: { sub: "flight-booker" },
    });
    tokens.toBooker = delegation.delegation_token;
  });

  it("flight-booker, in its own session, redeems the delegation token in the task and delegates on", async () => {
    // The sub-agent's view of its delegation over HTTP (whoami with subject_token: whoami.test.ts).
    const view = await whoami(broker, "flight-booker", tokens.toBooker as string);
    expect(view).toMatchObject({
      agent: "flight-booker",
      chain: ["flight-booker", "orchestrator"],
      subject_expires_at: deadline,
      task: { task_id: taskId, ceiling: CEILING, expires_at: deadline, tokens_left: 4 },
    });

    const access = await callOk(booker, "request_token", {
      api: "flights",
      scopes: ["flights.search"],
      ttl_seconds: 3600,
      subject_token: tokens.toBooker,
    });
    const claims = decode(access.access_token);
    expect(claims).toMatchObject({
      txn: taskId,
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    expect(claims.exp as number).toBeLessThanOrEqual(deadline);
    tokens.bookerAccess = access.access_token;

    const onward = await callOk(booker, "delegate", {
      to_agent: "researcher",
      scopes: ["docs.read"],
      subject_token: tokens.toBooker,
    });
    expect(decode(onward.delegation_token)).toMatchObject({ txn: taskId });
    tokens.toResearcher = onward.delegation_token;
  });

  it("researcher, two levels down, redeems its delegation in the task", async () => {
    const access = await callOk(researcher, "request_token", {
      api: "docs",
      scopes: ["docs.read"],
      ttl_seconds: 3600,
      subject_token: tokens.toResearcher,
    });
    const claims = decode(access.access_token);
    expect(claims).toMatchObject({
      txn: taskId,
      act: { sub: "researcher", act: { sub: "flight-booker", act: { sub: "orchestrator" } } },
    });
    expect(claims.exp as number).toBeLessThanOrEqual(deadline);
    tokens.researcherAccess = access.access_token;

    const me = await callOk(orchestrator, "whoami", { task_id: taskId });
    expect(me.task.tokens_left).toBe(1);
  });

  it("refusals inside the task are isError results whose hints follow the task", async () => {
    // The ceiling: docs.write is the orchestrator's, not the task's.
    const scope = await callRefused(
      orchestrator,
      "request_token",
      { api: "docs", scopes: ["docs.write"], task_id: taskId },
      "invalid_scope",
    );
    expect(scope.hint).toContain("docs.read");
    expect(scope.hint).not.toContain("docs.write");
    // Two levels down: researcher may hold flights.search and the ceiling has it, but its
    // delegation does not. The hint points at the delegation and the task, not the scope.
    const below = await callRefused(
      researcher,
      "request_token",
      { api: "flights", scopes: ["flights.search"], subject_token: tokens.toResearcher },
      "invalid_scope",
    );
    expect(below.hint).toMatch(/delegation token you passed carries only/);
    expect(below.hint).toMatch(/agent that delegated to you/);
    expect(below.hint).not.toContain("flights.search");

    // Someone else's task: another agent, another user.
    const notOpener = await callRefused(
      booker,
      "request_token",
      { api: "flights", scopes: ["flights.search"], task_id: taskId },
      "invalid_request",
    );
    // Design §3.5: the hint names the next call, never echoes input (the task id).
    expect(notOpener.hint).toMatch(/without task_id/);
    expect(notOpener.hint).not.toContain(taskId);
    const bob = await session("orchestrator", BOB);
    const otherUser = await callRefused(
      bob,
      "delegate",
      { to_agent: "flight-booker", scopes: ["flights.search"], task_id: taskId },
      "invalid_request",
    );
    expect(otherUser.hint).toMatch(/without task_id/);
    expect(otherUser.hint).not.toContain(taskId);
    await callRefused(booker, "end_task", { task_id: taskId }, "invalid_request");
    await callRefused(bob, "end_task", { task_id: taskId }, "invalid_request");

    // The last token of the budget, then the budget is spent.
    await callOk(orchestrator, "request_token", {
      api: "docs",
      scopes: ["docs.read"],
      task_id: taskId,
    });
    const spent = await callRefused(
      orchestrator,
      "request_token",
      { api: "docs", scopes: ["docs.read"], task_id: taskId },
      "invalid_request",
    );
    expect(spent.hint).toMatch(/out of tokens/);
    expect(spent.hint).toMatch(/call start_task/);
    expect(spent.hint).not.toContain(taskId);
    expect((await callOk(orchestrator, "whoami", { task_id: taskId })).task.tokens_left).toBe(0);
  });

  it("end_task makes every token of the tree inactive, and is idempotent", async () => {
    for (const [name, token] of Object.entries(tokens)) {
      expect(await introspect(broker, token), name).toMatchObject({ active: true, txn: taskId });
    }
    expect(await callOk(orchestrator, "end_task", { task_id: taskId })).toEqual({
      task_id: taskId,
      revoked: true,
    });
    for (const [name, token] of Object.entries(tokens)) {
      expect(await introspect(broker, token), name).toEqual({ active: false });
    }

    const entered = await callRefused(
      orchestrator,
      "request_token",
      { api: "calendar", scopes: ["calendar.read"], task_id: taskId },
      "invalid_request",
    );
    expect(entered.hint).toMatch(/ended/);
    expect(entered.hint).toMatch(/call start_task/);
    expect(entered.hint).not.toContain(taskId);
    const redeemed = await callRefused(
      researcher,
      "request_token",
      { api: "docs", scopes: ["docs.read"], subject_token: tokens.toResearcher },
      "invalid_request",
    );
    expect(redeemed.hint).toMatch(/delegat/);
    await callRefused(
      booker,
      "delegate",
      { to_agent: "researcher", scopes: ["docs.read"], subject_token: tokens.toBooker },
      "invalid_request",
    );

    expect(await callOk(orchestrator, "end_task", { task_id: taskId })).toEqual({
      task_id: taskId,
      revoked: true,
    });
    expect(broker.events.filter((e) => e.type === "task.ended")).toHaveLength(1);
  });
});

describe("MCP over Streamable HTTP: tasks from a template, and start_task refusals", () => {
  let orchestrator: Client;
  beforeAll(async () => {
    orchestrator = await session("orchestrator");
  });

  it("start_task from a template without approval takes its ceiling, deadline and budget", async () => {
    const now = broker.clock.now();
    const task = await callOk(orchestrator, "start_task", {
      purpose: "read up",
      template: "reading",
      max_tokens: 100,
    });
    expect(task).toMatchObject({
      ceiling: ["calendar.read", "docs.read"],
      expires_at: iso(now + 1200),
      max_tokens: 4,
      tokens_left: 4,
      status: "active",
    });
    const listed = await callOk(orchestrator, "list_apis", { task_id: task.task_id });
    expect(offered(listed.apis)).toEqual([
      ["calendar", ["calendar.read"]],
      ["docs", ["docs.read"]],
    ]);
    const started = broker.events.findLast((e) => e.type === "task.started");
    expect(started).toMatchObject({
      task: task.task_id,
      template: "reading",
      agent: "orchestrator",
    });
    await callOk(orchestrator, "end_task", { task_id: task.task_id });
  });

  it("refuses a ceiling beyond the agent, both or neither of scopes and template, an unknown template", async () => {
    const booker = await session("flight-booker");
    await callRefused(
      booker,
      "start_task",
      { purpose: "x", scopes: ["calendar.read"] },
      "invalid_scope",
    );
    await callRefused(
      orchestrator,
      "start_task",
      { purpose: "x", scopes: ["docs.read"], template: "reading" },
      "invalid_request",
    );
    await callRefused(orchestrator, "start_task", { purpose: "x" }, "invalid_request");
    await callRefused(
      orchestrator,
      "start_task",
      { purpose: "x", template: "no-such-template" },
      "invalid_request",
    );
    await callRefused(
      orchestrator,
      "end_task",
      { task_id: "tsk_unknownunknown" },
      "invalid_request",
    );
  });
});

describe("baton mcp over stdio", () => {
  it(
    "start_task → request_token with task_id → end_task",
    async () => {
      const dir = await children.tempDir();
      const audit = join(dir, "a.jsonl");
      const stdio = await connectStdio(children, [
        "--agent",
        "orchestrator",
        "--dev-user",
        ALICE,
        "--policies",
        TEST_POLICIES,
        "--store",
        `sqlite://${dir}/b.db`,
        "--audit",
        audit,
      ]);
      try {
        const { client } = stdio;
        const task = await callOk(client, "start_task", {
          purpose: "find a flight",
          scopes: ["calendar.read", "flights.search"],
          max_tokens: 3,
        });
        expect(task).toMatchObject({
          ceiling: ["calendar.read", "flights.search"],
          max_tokens: 3,
          status: "active",
        });
        const me = await callOk(client, "whoami", { task_id: task.task_id });
        expect(me.task).toMatchObject({ task_id: task.task_id, tokens_left: 3 });
        expect(offered(me.apis)).toEqual([
          ["calendar", ["calendar.read"]],
          ["flights", ["flights.search"]],
        ]);

        const token = await callOk(client, "request_token", {
          api: "calendar",
          scopes: ["calendar.read"],
          task_id: task.task_id,
        });
        expect(decode(token.access_token)).toMatchObject({
          sub: ALICE,
          txn: task.task_id,
          scope: "calendar.read",
        });
        await callRefused(
          client,
          "request_token",
          { api: "flights", scopes: ["flights.book"], task_id: task.task_id },
          "invalid_scope",
        );

        expect(await callOk(client, "end_task", { task_id: task.task_id })).toEqual({
          task_id: task.task_id,
          revoked: true,
        });
        const after = await callRefused(
          client,
          "request_token",
          { api: "calendar", scopes: ["calendar.read"], task_id: task.task_id },
          "invalid_request",
        );
        expect(after.hint).toMatch(/call start_task/);
        expect(after.hint).not.toContain(task.task_id);
      } finally {
        await stdio.close();
      }

      const events = (await readFile(audit, "utf8"))
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(["task.started", "exchange.issued", "task.ended"]),
      );
      const issued = events.filter((e) => e.type === "exchange.issued");
      expect(issued).toHaveLength(1);
      expect(issued[0]?.txn).toBeDefined();
      expect(JSON.stringify(events)).not.toMatch(/eyJ[\w-]+\.eyJ/);
    },
    SPAWN_TIMEOUT,
  );
});
