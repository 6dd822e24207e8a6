/**
 * Design §3.5, issue 16 item 1: each refusal's hint comes from its own cause (the rule and the
 * facts the core attached), names the next call and the values to use from policy data, echoes
 * no input, carries no token, and costs no further core call. Real parts only: the test broker
 * over loopback, its core behind a `Broker`, an MCP server on it and an SDK client (over the
 * SDK's in-memory transport). The `Broker` is wrapped to count calls: a wrapper of the public
 * interface, not a mock; every call goes through to the real core.
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Broker, createBroker } from "../../src/exchange/broker.js";
import { remoteBroker } from "../../src/mcp/remote-broker.js";
import { createMcpServer } from "../../src/mcp/server.js";
import type { Session } from "../../src/mcp/session.js";
import { issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callOk, callRefused } from "../helpers/mcp.js";

let broker: TestBroker;
/** Every call the tools made to the broker, by operation. */
let calls: string[] = [];

/** The real broker, every operation counted. */
function counted(inner: Broker): Broker {
  const wrapped = {} as Record<string, unknown>;
  for (const name of Object.keys(inner) as (keyof Broker)[]) {
    const op = inner[name];
    if (typeof op !== "function") continue;
    wrapped[name] = (...args: unknown[]) => {
      calls.push(name);
      return (op as (...a: unknown[]) => unknown).apply(inner, args);
    };
  }
  return wrapped as unknown as Broker;
}

/**
 * An SDK client on an MCP server for `agent`, acting for Alice (or on `token`), over the core in
 * this process, or (`remote`) over the test broker's HTTP endpoints as `baton mcp --broker` is.
 */
async function connect(agent: string, token?: string, remote = false): Promise<Client> {
  const subject = token ?? (await broker.devToken(ALICE, { agent }));
  const inner = remote
    ? remoteBroker({
        broker: broker.url,
        agentId: agent,
        clientSecret: broker.secrets[agent] ?? "",
      })
    : createBroker(broker.deps);
  const session: Session = {
    broker: counted(inner),
    caller: { agentId: agent },
    subjectToken: async () => subject,
    userDecides: true,
  };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer(session).connect(serverSide);
  const client = new Client({ name: "hints-test", version: "0.0.0" });
  await client.connect(clientSide);
  return client;
}

/**
 * Calls a tool that must be refused with `code` by exactly one core call, nothing issued; the
 * hint, checked to echo none of `input`.
 */
async function refusedHint(
  client: Client,
  tool: string,
  args: Record<string, unknown>,
  code: string,
  echoes: readonly string[] = [],
): Promise<string> {
  const issued = issuedCount(broker);
  calls = [];
  const { hint } = await callRefused(client, tool, args, code);
  expect(calls, "one core call, the refused one: no second call for the hint").toHaveLength(1);
  expect(issuedCount(broker)).toBe(issued);
  for (const value of echoes) expect(hint).not.toContain(value);
  return hint as string;
}

let orchestrator: Client;
let booker: Client;

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.tasks = {
        "plan-trip": { description: "Plan a trip", ceiling: ["calendar.read", "flights.search"] },
        "read-docs": { description: "Read documents", ceiling: ["docs.read"] },
      };
    },
  });
  orchestrator = await connect("orchestrator");
  booker = await connect("flight-booker");
});
afterAll(async () => {
  await orchestrator?.close();
  await booker?.close();
  await broker?.close();
});
beforeEach(() => {
  calls = [];
});

describe("a hint per cause, from the refusal's own rule and facts", () => {
  it("an access token passed as subject_token: pass the delegation token instead", async () => {
    const access = await callOk(orchestrator, "request_token", {
      api: "flights",
      scopes: ["flights.search"],
    });
    const hint = await refusedHint(
      booker,
      "request_token",
      { api: "flights", scopes: ["flights.search"], subject_token: access.access_token },
      "invalid_request",
    );
    expect(hint).toMatch(/subject_token takes a delegation token .*never an access token/);
    expect(hint).toContain("call delegate with to_agent set to you");
    expect(hint).not.toMatch(/reconnect/i);
  });

  it("unknown template: start_task with the policy's template ids", async () => {
    const hint = await refusedHint(
      orchestrator,
      "start_task",
      { purpose: "A trip", template: "book-tripp" },
      "invalid_request",
      ["book-tripp"],
    );
    expect(hint).toMatch(/call start_task with template one of: plan-trip, read-docs/i);
  });

  it("both scopes and template: start_task with exactly one of them", async () => {
    const hint = await refusedHint(
      orchestrator,
      "start_task",
      { purpose: "A trip", template: "plan-trip", scopes: ["docs.read"] },
      "invalid_request",
    );
    expect(hint).toMatch(/call start_task with exactly one of scopes .* or template/i);
    expect(hint).not.toMatch(/reconnect/i);
  });

  it("a delegation too broad: the scopes the sub-agent may receive (delegator's ∩ sub-agent's)", async () => {
    const hint = await refusedHint(
      orchestrator,
      "delegate",
      { to_agent: "flight-booker", scopes: ["calendar.read"] },
      "invalid_scope",
    );
    // orchestrator ∩ flight-booker = flights.search, flights.book, docs.read; not calendar.*.
    expect(hint).toContain("flight-booker may receive only");
    const listed = /may hold: (.*?)\. Call/.exec(hint)?.[1]?.split(", ") ?? [];
    expect(listed.sort()).toEqual(["docs.read", "flights.book", "flights.search"]);
    expect(hint).toMatch(/call delegate with scopes from/i);
  });

  it("delegation off the policy's edges: the agents it may delegate to", async () => {
    const hint = await refusedHint(
      booker,
      "delegate",
      { to_agent: "orchestrator", scopes: ["docs.read"] },
      "invalid_target",
    );
    expect(hint).toBe(
      "You may delegate only to: researcher. Call delegate with to_agent one of them.",
    );
  });

  it("unknown API: the API ids", async () => {
    const hint = await refusedHint(
      orchestrator,
      "request_token",
      { api: "calendr", scopes: ["calendar.read"] },
      "invalid_target",
      ["calendr"],
    );
    expect(hint).toBe(
      "Call request_token with api one of: calendar, flights, docs (call whoami for the scopes of each).",
    );
  });

  it("a scope not of that API, or not the agent's: request_token with that API's allowed scopes", async () => {
    const other = await refusedHint(
      booker,
      "request_token",
      { api: "docs", scopes: ["docs.write"] },
      "invalid_scope",
    );
    expect(other).toBe("Call request_token with api docs and scopes from: docs.read.");
    const foreign = await refusedHint(
      orchestrator,
      "request_token",
      { api: "calendar", scopes: ["docs.read"] },
      "invalid_scope",
    );
    expect(foreign).toBe(
      "Call request_token with api calendar and scopes from: calendar.read, calendar.write.",
    );
  });

  it("beyond the delegation: what the delegation token carries", async () => {
    const { delegation_token } = await callOk(orchestrator, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search"],
    });
    const hint = await refusedHint(
      booker,
      "request_token",
      { api: "docs", scopes: ["docs.read"], subject_token: delegation_token },
      "invalid_scope",
    );
    expect(hint).toMatch(/delegation token you passed carries only: none of these/);
    expect(hint).toMatch(/ask the agent that delegated to you/i);
    const search = await refusedHint(
      booker,
      "request_token",
      { api: "flights", scopes: ["flights.book"], subject_token: delegation_token },
      "invalid_scope",
    );
    expect(search).toContain("carries only: flights.search.");
    expect(search).toContain(
      "Call request_token with api flights and scopes from: flights.search.",
    );
  });

  it("outside the task's ceiling: the scopes the ceiling allows", async () => {
    const task = await callOk(orchestrator, "start_task", {
      purpose: "Read",
      template: "read-docs",
    });
    const hint = await refusedHint(
      orchestrator,
      "request_token",
      { api: "docs", scopes: ["docs.write"], task_id: task.task_id },
      "invalid_scope",
      [task.task_id],
    );
    expect(hint).toBe(
      "Outside the task's ceiling (docs.read). Call request_token with api docs and scopes from: docs.read. For more, end_task and call start_task with a wider ceiling.",
    );
  });

  it("a task ended, or not the caller's: start_task anew, or omit task_id; never 'reconnect'", async () => {
    const task = await callOk(orchestrator, "start_task", {
      purpose: "Read",
      scopes: ["docs.read"],
    });
    const notMine = await refusedHint(
      booker,
      "request_token",
      { api: "docs", scopes: ["docs.read"], task_id: task.task_id },
      "invalid_request",
      [task.task_id],
    );
    expect(notMine).toMatch(/call again without task_id/i);
    await callOk(orchestrator, "end_task", { task_id: task.task_id });
    const ended = await refusedHint(
      orchestrator,
      "request_token",
      { api: "docs", scopes: ["docs.read"], task_id: task.task_id },
      "invalid_request",
      [task.task_id],
    );
    expect(ended).toMatch(/task is over.*call start_task for a new task/i);
    for (const hint of [notMine, ended]) expect(hint).not.toMatch(/reconnect/i);
  });

  it("an approval that is not this request's, or unknown: ask anew without approval_id", async () => {
    const id = "apr_AAAAAAAAAAAAAAAAAAAAAA";
    const hint = await refusedHint(
      orchestrator,
      "request_token",
      { api: "calendar", scopes: ["calendar.write"], approval_id: id },
      "invalid_request",
      [id],
    );
    expect(hint).toMatch(/call request_token again without approval_id/i);
    const status = await refusedHint(
      orchestrator,
      "approval_status",
      { approval_id: id },
      "invalid_request",
      [id],
    );
    expect(status).toMatch(/pass the approval_id an approval_required result gave you/);
  });

  it("revoke_token of a token that is not the caller's: who may revoke it, not 'disabled'", async () => {
    const { access_token } = await callOk(orchestrator, "request_token", {
      api: "docs",
      scopes: ["docs.read"],
    });
    const hint = await refusedHint(
      booker,
      "revoke_token",
      { token: access_token },
      "unauthorized_client",
    );
    expect(hint).toBe(
      "This token is not yours to revoke. Only these agents may revoke it: orchestrator.",
    );
    expect(hint).not.toMatch(/disabled/);
  });

  it("'reconnect' only when the session's own subject token is dead", async () => {
    const short = await broker.devToken(ALICE, { agent: "orchestrator", ttl: 60 });
    const client = await connect("orchestrator", short);
    try {
      broker.clock.advance(120);
      const hint = await refusedHint(
        client,
        "request_token",
        { api: "docs", scopes: ["docs.read"] },
        "invalid_request",
      );
      expect(hint).toBe(
        "Your session's token has expired or was revoked: ask the user to reconnect.",
      );
    } finally {
      broker.clock.advance(-120);
      await client.close();
    }
  });
});

describe("remote mode (baton mcp --broker): the HTTP body carries no facts", () => {
  it("the hint falls back to what the code alone says, with no extra call", async () => {
    const remote = await connect("orchestrator", undefined, true);
    try {
      const scope = await refusedHint(
        remote,
        "delegate",
        { to_agent: "flight-booker", scopes: ["calendar.read"] },
        "invalid_scope",
      );
      expect(scope).toBe(
        "Ask for fewer or other scopes: call whoami to see the scopes this agent may ask for.",
      );
      const target = await refusedHint(
        remote,
        "request_token",
        { api: "calendr", scopes: ["calendar.read"] },
        "invalid_target",
        ["calendr"],
      );
      expect(target).toBe(
        "Name one API this agent may use, or a sub-agent it may delegate to: call whoami to see them.",
      );
    } finally {
      await remote.close();
    }
  });
});
