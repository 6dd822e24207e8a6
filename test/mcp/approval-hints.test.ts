/**
 * Issue 16 items 3 and 4, design §3.5: an `approval_required` result says what to do next. Where
 * a page is served (`/mcp` on `baton serve`, `baton mcp --broker`) the hint says to show
 * `approve_url`; where none is (the embedded stdio `baton mcp`, no listener) it names the
 * operator's exact `baton approvals approve <id>` and the result carries no dead link. Either
 * way: poll `approval_status` every `interval` s, then repeat the call with `approval_id`. And
 * `delegate`'s result says how to hand the token over. A real broker, real MCP servers and SDK
 * clients (in memory for the embedded session, Streamable HTTP for `/mcp`).
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBroker } from "../../src/exchange/broker.js";
import { POLL_INTERVAL } from "../../src/exchange/steps/approval.js";
import { embeddedSession } from "../../src/mcp/embedded-session.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { POLL_SECONDS } from "../../src/mcp/tools/approval-flow.js";
import { withApproverGroup } from "../helpers/approvals.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callOk, callTool, connectHttp } from "../helpers/mcp.js";

let broker: TestBroker;
const clients: Client[] = [];
beforeAll(async () => {
  broker = await startTestBroker({ editPolicy: withApproverGroup });
});
afterAll(async () => {
  for (const client of clients) await client.close();
  await broker.close();
});

/** The embedded stdio server's session, as `baton mcp --agent` builds it: no page served. */
async function embedded(
  agent = "orchestrator",
  client = new Client({ name: "approval-hints-test", version: "0.0.0" }),
): Promise<Client> {
  const token = await broker.devToken(ALICE, { agent });
  const session = embeddedSession(
    createBroker(broker.deps),
    { agentId: agent },
    async () => token,
    false,
  );
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer(session).connect(serverSide);
  await client.connect(clientSide);
  clients.push(client);
  return client;
}

/** An SDK client on the test broker's `/mcp`: the approval page is served there. */
async function served(): Promise<Client> {
  const client = await connectHttp(
    broker.url,
    await broker.devToken(ALICE, { agent: "orchestrator" }),
  );
  clients.push(client);
  return client;
}

const WRITE = { api: "calendar", scopes: ["calendar.write"] };

/** What every approval hint says: how often to poll, and what to do once approved. */
function expectPolling(hint: string): void {
  expect(hint).toContain(`Poll approval_status with approval_id every ${POLL_SECONDS} s`);
}

describe("approval_required says where a human decides, how to poll, what then", () => {
  it("the poll interval is the one the core's authorization_pending names", () => {
    expect(POLL_SECONDS).toBe(POLL_INTERVAL);
  });

  it("stdio (no page served): the operator's exact command, no approve_url", async () => {
    const client = await embedded();
    const out = await callOk(client, "request_token", { ...WRITE, ttl_seconds: 61 });
    expect(out.status).toBe("approval_required");
    expect(out).not.toHaveProperty("approve_url");
    expect(out.hint).toContain(`baton approvals approve ${out.approval_id}`);
    expect(out.hint).toContain("No approval page is served here");
    expect(out.hint).not.toContain("approve_url");
    expectPolling(out.hint);
    expect(out.hint).toContain("repeat this same call with approval_id");
  });

  it("stdio: the result's one line of text carries the hint, never an absent URL", async () => {
    const client = await embedded();
    const result = await client.callTool({
      name: "request_token",
      arguments: { ...WRITE, ttl_seconds: 62 },
    });
    const out = result.structuredContent as Record<string, string>;
    const [text] = result.content as { type: string; text: string }[];
    expect(text?.text).toBe(
      `approval_required: approval ${out.approval_id} waits for a human. ${out.hint}`,
    );
    expect(text?.text).not.toContain("undefined");
  });

  it("stdio, a client with URL-mode elicitation only: never sent to a page nothing serves", async () => {
    const asked: unknown[] = [];
    const client = new Client(
      { name: "approval-hints-url", version: "0.0.0" },
      { capabilities: { elicitation: { url: {} } } },
    );
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      return { action: "accept" };
    });
    const out = await callOk(await embedded("orchestrator", client), "request_token", {
      ...WRITE,
      ttl_seconds: 64,
    });
    expect(asked).toEqual([]);
    expect(out.hint).toContain(`baton approvals approve ${out.approval_id}`);
  });

  it("HTTP (/mcp): show approve_url to the user, and the url is the page's", async () => {
    const client = await served();
    const out = await callOk(client, "request_token", { ...WRITE, ttl_seconds: 62 });
    expect(out.approve_url).toBe(`${broker.issuer}/approvals/${out.approval_id}`);
    expect(out.hint).toContain("Show the user approve_url to decide.");
    expect(out.hint).not.toContain("baton approvals approve");
    expectPolling(out.hint);
    expect(out.hint).toContain("repeat this same call with approval_id");
  });

  it("a group's approval: the hint names who decides, the group, not the user", async () => {
    const client = await served();
    const out = await callOk(client, "request_token", {
      api: "payments",
      scopes: ["payments.charge"],
    });
    expect(out.hint).toContain("Show a member of approvers approve_url to decide.");
  });

  it("the hinted next step works: the same call again gets the same approval, then a token", async () => {
    const client = await embedded();
    const first = await callOk(client, "request_token", { ...WRITE, ttl_seconds: 63 });
    const again = await callOk(client, "request_token", { ...WRITE, ttl_seconds: 63 });
    expect(again.approval_id).toBe(first.approval_id);
    // The operator runs the command the hint names (the CLI decides through the same broker).
    await createBroker(broker.deps).decideAs({ operator: true }, first.approval_id, "approved");
    expect(
      await callOk(client, "approval_status", { approval_id: first.approval_id }),
    ).toMatchObject({ status: "approved" });
    const token = await callOk(client, "request_token", {
      ...WRITE,
      ttl_seconds: 63,
      approval_id: first.approval_id,
    });
    expect(token.scope).toBe("calendar.write");
  });

  it("start_task whose ceiling waits: the task, the command in stdio, work in the task then", async () => {
    const client = await embedded();
    const out = await callOk(client, "start_task", {
      purpose: "move the meeting",
      scopes: ["calendar.read", "calendar.write"],
    });
    expect(out.status).toBe("approval_required");
    expect(out).not.toHaveProperty("approve_url");
    expect(out.hint).toContain(`baton approvals approve ${out.approval_id}`);
    expectPolling(out.hint);
    expect(out.hint).toContain("pass its task_id");
  });

  it("start_task over /mcp: approve_url and the hint that names it", async () => {
    const client = await served();
    const out = await callOk(client, "start_task", {
      purpose: "move the meeting",
      scopes: ["calendar.read", "calendar.write"],
      ttl_seconds: 600,
    });
    expect(out.approve_url).toBe(`${broker.issuer}/approvals/${out.approval_id}`);
    expect(out.hint).toContain("Show the user approve_url to decide.");
  });
});

describe("delegate says how to hand the token over (issue 16 item 3)", () => {
  it("subject_token on each call, or BATON_SUBJECT_TOKEN for its server; in a task, the task too", async () => {
    const client = await served();
    const plain = await callOk(client, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search"],
    });
    expect(plain.handover).toBe(
      "Hand it to flight-booker: it passes it as subject_token on each call, or as BATON_SUBJECT_TOKEN when starting its baton mcp server.",
    );
    const task = await callOk(client, "start_task", {
      purpose: "find flights",
      scopes: ["flights.search"],
    });
    const inTask = await callTool(client, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search"],
      task_id: task.task_id,
    });
    expect(inTask.out.handover).toMatch(/; the task comes with it\.$/);
    // One short line: the handover is no second description of the tool.
    expect(inTask.out.handover.length).toBeLessThan(200);
  });
});
