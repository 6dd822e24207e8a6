/**
 * Issue 16 items 2 and 3: one discovery answer. `whoami` shows everything an agent needs to
 * plan (the APIs with elevated scopes, lifetimes and defaults; the task templates it may open
 * with their ceilings and whether they need approval; each sub-agent with the scopes it may
 * receive; the broker's defaults), the same through every door: MCP over Streamable HTTP (the
 * core in the broker), MCP on a remote broker (`baton mcp --broker`'s Broker over HTTP), and
 * `POST /whoami`. A sub-agent passes the delegation token it was handed as `subject_token` and
 * sees that delegation: its chain, its task, the scopes it carries. A `subject_token` the agent
 * may not use is refused with the exact code, and nothing is issued.
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteBroker } from "../../src/mcp/remote-broker.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callOk, callRefused, connectHttp } from "../helpers/mcp.js";
import { postWhoami, whoami } from "../helpers/tasks.js";

let broker: TestBroker;
const clients: Client[] = [];

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy(data) {
      data.tasks = {
        "book-trip": {
          description: "Book a trip",
          ceiling: ["flights.search", "flights.book", "calendar.read"],
          max_ttl: "30m",
          max_tokens: 50,
          approval: "subject",
        },
        "read-docs": { ceiling: ["docs.read"] },
        // Not for the flight-booker: docs.write is not among its scopes.
        "write-docs": { ceiling: ["docs.read", "docs.write"] },
      };
      // As in the demo: the flight booker acts only on a delegation it was handed.
      data.agents["flight-booker"].delegated_only = true;
    },
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await broker?.close();
});

/** An MCP session for `agent` acting for Alice, over the broker's own `/mcp`. */
async function embedded(agent: string): Promise<Client> {
  const client = await connectHttp(broker.url, await broker.devToken(ALICE, { agent }));
  clients.push(client);
  return client;
}

/** An MCP session for `agent` whose Broker is the running broker over HTTP (`--broker`). */
async function remote(agent: string): Promise<Client> {
  const subject = await broker.devToken(ALICE, { agent });
  const session = {
    broker: remoteBroker({
      broker: broker.url,
      agentId: agent,
      clientSecret: broker.secrets[agent] ?? "",
    }),
    caller: { agentId: agent },
    subjectToken: async () => subject,
    userDecides: false,
  };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer(session).connect(serverSide);
  const client = new Client({ name: "whoami-test", version: "0.0.0" });
  await client.connect(clientSide);
  clients.push(client);
  return client;
}

const issued = () => broker.events.filter((e) => e.type === "exchange.issued").length;

/** What the orchestrator, for Alice, outside any task, must be told (MCP rendering). */
const ORCHESTRATOR_VIEW = {
  subject: ALICE,
  agent: "orchestrator",
  chain: ["orchestrator"],
  apis: [
    {
      id: "calendar",
      resource: "https://calendar.example.com",
      description: "Team calendar",
      scopes: ["calendar.read", "calendar.write"],
      elevated: ["calendar.write"],
      max_ttl_seconds: 600,
      default_ttl_seconds: 300,
      default_scopes: ["calendar.read"],
    },
    {
      id: "flights",
      resource: "https://flights.example.com",
      description: "Flights",
      scopes: ["flights.search", "flights.book"],
      elevated: ["flights.book"],
      max_ttl_seconds: 3600,
      default_ttl_seconds: 300,
    },
    {
      id: "docs",
      resource: "https://docs.example.com/api",
      description: "Documents",
      scopes: ["docs.read", "docs.write"],
      max_ttl_seconds: 1800,
      default_ttl_seconds: 300,
    },
  ],
  templates: [
    {
      id: "book-trip",
      description: "Book a trip",
      ceiling: ["flights.search", "flights.book", "calendar.read"],
      max_ttl_seconds: 1800,
      max_tokens: 50,
      approval: true,
    },
    {
      id: "read-docs",
      ceiling: ["docs.read"],
      max_ttl_seconds: 3600,
      max_tokens: 1000,
      approval: false,
    },
    {
      id: "write-docs",
      ceiling: ["docs.read", "docs.write"],
      max_ttl_seconds: 3600,
      max_tokens: 1000,
      approval: false,
    },
  ],
  delegate_to: [
    {
      agent: "flight-booker",
      description: "Books flights",
      scopes: ["flights.search", "flights.book", "docs.read"],
    },
    {
      agent: "researcher",
      description: "Reads documents; authenticates with private_key_jwt or its secret",
      scopes: ["flights.search", "docs.read"],
    },
  ],
  defaults: { token_ttl_seconds: 300, task_ttl_seconds: 3600, task_max_tokens: 1000 },
  policy_version: expect.stringMatching(/^[0-9a-f]{16}$/),
};

describe("whoami: the one discovery answer", () => {
  it("over MCP (embedded): APIs, templates with ceilings and approval, delegation targets, defaults", async () => {
    const me = await callOk(await embedded("orchestrator"), "whoami");
    expect(me).toEqual({ ...ORCHESTRATOR_VIEW, expires_at: expect.any(String) });
    expect(JSON.stringify(me).length, "compact in a model's context").toBeLessThan(2000);
  });

  it("over MCP on a remote broker (baton mcp --broker): the same answer", async () => {
    const viaRemote = await callOk(await remote("orchestrator"), "whoami");
    const viaEmbedded = await callOk(await embedded("orchestrator"), "whoami");
    expect(viaRemote).toEqual(viaEmbedded);
    expect(viaRemote).toMatchObject({ templates: ORCHESTRATOR_VIEW.templates });
  });

  it("POST /whoami carries the same data in the core's shape", async () => {
    const view = await whoami(broker, "orchestrator", await broker.devToken(ALICE));
    expect(view.templates).toEqual([
      expect.objectContaining({ id: "book-trip", max_ttl_seconds: 1800, approval: true }),
      expect.objectContaining({ id: "read-docs", ceiling: ["docs.read"], approval: false }),
      expect.objectContaining({ id: "write-docs", approval: false }),
    ]);
    expect(view.delegates).toEqual([
      expect.objectContaining({
        agent: "flight-booker",
        scopes: ["flights.search", "flights.book", "docs.read"],
      }),
      expect.objectContaining({ agent: "researcher", scopes: ["flights.search", "docs.read"] }),
    ]);
    expect(view.defaults).toEqual({
      token_ttl_seconds: 300,
      task_ttl_seconds: 3600,
      task_max_tokens: 1000,
    });
    expect(view.apis[0]).toMatchObject({
      id: "calendar",
      max_ttl_seconds: 600,
      default_ttl_seconds: 300,
      default_scopes: ["calendar.read"],
      scopes: [
        { name: "calendar.read", elevated: false },
        { name: "calendar.write", elevated: true },
      ],
    });
    expect(view.delegation).toBeUndefined();
  });

  it("templates are narrowed to the agent: one whose ceiling it may not hold is not offered", async () => {
    const researcher = await callOk(await embedded("researcher"), "whoami");
    // The researcher lacks calendar.read and flights.book (book-trip), docs.write (write-docs).
    expect(researcher.templates.map((t: { id: string }) => t.id)).toEqual(["read-docs"]);
    // It delegates to the orchestrator: what both may hold.
    expect(researcher.delegate_to).toEqual([
      {
        agent: "orchestrator",
        description: "Plans trips",
        scopes: ["flights.search", "docs.read"],
      },
    ]);
  });

  it("a delegated_only agent on its user's own token is offered nothing, and told why", async () => {
    const me = await callOk(await embedded("flight-booker"), "whoami");
    expect(me).toMatchObject({
      agent: "flight-booker",
      delegated_only: true,
      apis: [],
      templates: [],
      delegate_to: [],
    });
  });

  it("list_apis is the same APIs section", async () => {
    const client = await embedded("orchestrator");
    const listed = await callOk(client, "list_apis");
    expect(listed).toEqual({
      agent: "orchestrator",
      subject: ALICE,
      apis: ORCHESTRATOR_VIEW.apis,
    });
  });
});

describe("a sub-agent's view of the delegation it was handed", () => {
  let delegation: string;
  let taskId: string;
  let deadline: number;

  beforeAll(async () => {
    const orchestrator = await embedded("orchestrator");
    const task = await callOk(orchestrator, "start_task", {
      purpose: "plan alice's trip",
      scopes: ["flights.search", "docs.read", "calendar.read"],
      ttl_seconds: 900,
    });
    taskId = task.task_id;
    deadline = broker.clock.now() + 900;
    const out = await callOk(orchestrator, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search", "docs.read"],
      task_id: taskId,
    });
    delegation = out.delegation_token;
  });

  for (const mode of ["embedded", "remote"] as const) {
    it(`whoami with subject_token (${mode}): the chain, the task, the scopes it carries`, async () => {
      const booker =
        mode === "embedded" ? await embedded("flight-booker") : await remote("flight-booker");
      const me = await callOk(booker, "whoami", { subject_token: delegation });
      const expiresAt = new Date((broker.clock.now() + 300) * 1000).toISOString();
      expect(me).toEqual({
        subject: ALICE,
        agent: "flight-booker",
        chain: ["flight-booker", "orchestrator"],
        expires_at: expiresAt,
        delegation: {
          from: "orchestrator",
          scopes: ["flights.search", "docs.read"],
          expires_at: expiresAt,
        },
        task: expect.objectContaining({
          task_id: taskId,
          ceiling: ["flights.search", "docs.read", "calendar.read"],
          expires_at: new Date(deadline * 1000).toISOString(),
          status: "active",
        }),
        apis: [
          expect.objectContaining({ id: "flights", scopes: ["flights.search"] }),
          expect.objectContaining({ id: "docs", scopes: ["docs.read"] }),
        ],
        // Tasks do not nest: inside one, no template is offered.
        templates: [],
        // What the researcher may receive: the booker's ∩ the researcher's ∩ the delegation's.
        delegate_to: [
          expect.objectContaining({ agent: "researcher", scopes: ["flights.search", "docs.read"] }),
        ],
        defaults: ORCHESTRATOR_VIEW.defaults,
        policy_version: expect.any(String),
      });
      const listed = await callOk(booker, "list_apis", { subject_token: delegation });
      expect(listed.apis).toEqual(me.apis);
    });
  }

  it("POST /whoami with the delegation token shows the same delegation", async () => {
    const view = await whoami(broker, "flight-booker", delegation);
    expect(view).toMatchObject({
      chain: ["flight-booker", "orchestrator"],
      delegation: { from: "orchestrator", scopes: ["flights.search", "docs.read"] },
      task: { task_id: taskId, status: "active" },
      templates: [],
    });
  });

  it("a subject_token the agent may not use is refused, exact code, nothing issued", async () => {
    const before = issued();
    // The delegation names flight-booker in may_act: the researcher cannot use it (rule 5).
    for (const researcher of [await embedded("researcher"), await remote("researcher")]) {
      await callRefused(researcher, "whoami", { subject_token: delegation }, "invalid_request");
      await callRefused(researcher, "list_apis", { subject_token: delegation }, "invalid_request");
      await callRefused(researcher, "whoami", { subject_token: "not-a-token" }, "invalid_request");
    }
    const res = await postWhoami(broker, "researcher", delegation);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "invalid_request",
      error_description: expect.any(String),
    });
    expect(issued()).toBe(before);
  });
});

describe("a lifetime above the cap is reported", () => {
  it("request_token and delegate say ttl_capped when they shorten ttl_seconds", async () => {
    const client = await embedded("orchestrator");
    const capped = await callOk(client, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
      ttl_seconds: 3600,
    });
    expect(capped).toMatchObject({ expires_in: 600, ttl_capped: true });
    const asked = await callOk(client, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
      ttl_seconds: 120,
    });
    expect(asked.expires_in).toBe(120);
    expect(asked.ttl_capped).toBeUndefined();
    const delegated = await callOk(client, "delegate", {
      to_agent: "researcher",
      scopes: ["docs.read"],
      ttl_seconds: 86_400,
    });
    expect(delegated).toMatchObject({ expires_in: 3600, ttl_capped: true });
  });

  it("start_task says ttl_capped when the task's deadline is shorter than ttl_seconds", async () => {
    const client = await embedded("orchestrator");
    const capped = await callOk(client, "start_task", {
      purpose: "A long one",
      scopes: ["docs.read"],
      ttl_seconds: 86_400,
    });
    expect(capped).toMatchObject({ status: "active", ttl_capped: true });
    const asked = await callOk(client, "start_task", {
      purpose: "A short one",
      scopes: ["docs.read"],
      ttl_seconds: 600,
    });
    expect(asked.status).toBe("active");
    expect(asked.ttl_capped).toBeUndefined();
  });
});
