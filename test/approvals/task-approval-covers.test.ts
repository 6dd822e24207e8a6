/**
 * Rule 6, what the approver is shown: a task's one approval names every agent it covers, the
 * opener and each agent a delegation can reach with an elevated scope of the ceiling, in the
 * same plain words everywhere an approval is shown: the approval page, the MCP client's prompt
 * (form mode, `start_task`), the operator's desk (`baton approvals list`, approve), the webhook
 * and the agent's `approval_status` view. A request that is not a task's names no covered set.
 *
 * The real broker over loopback HTTP (test/helpers/broker.ts), a real MCP SDK client on its
 * `/mcp`, the desk's own functions over the real `ServingBroker`. Policy: template `trip`
 * (flights.search, flights.book; approval: subject); flight-booker holds flights.book and the
 * orchestrator delegates to it; the researcher does not hold it.
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type ElicitRequest, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideFromCli, listApprovals } from "../../src/cli/approvals.js";
import { createBroker } from "../../src/exchange/broker.js";
import {
  accessRequest,
  type Collector,
  getPage,
  requestApproval,
  signIn,
  startCollector,
} from "../helpers/approvals.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callOk } from "../helpers/mcp.js";
import { startTask } from "../helpers/tasks.js";

/** The words every surface uses for the trip's covered set. */
const WORDS = "orchestrator (flights.book); flight-booker (flights.book) by delegation";
const COVERS = [
  { agent: "orchestrator", scopes: ["flights.book"], delegated: false },
  { agent: "flight-booker", scopes: ["flights.book"], delegated: true },
];

let broker: TestBroker;
let hook: Collector;
beforeAll(async () => {
  hook = await startCollector();
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.broker.max_open_approvals = 100;
      data.broker.approval_webhook = `${hook.url}/hook`;
      data.tasks = { trip: { ceiling: ["flights.search", "flights.book"], approval: "subject" } };
    },
  });
});
afterAll(async () => {
  await broker?.close();
  await hook?.close();
});

/** Opens a `trip` task as the orchestrator for alice: its pending approval's id. */
async function openTrip(purpose = "book the flight to Lisbon"): Promise<string> {
  const user = await broker.devToken(ALICE, { agent: "orchestrator" });
  const task = await startTask(broker, "orchestrator", user, { template: "trip", purpose });
  expect(task.status).toBe("approval_required");
  return task.approval_id as string;
}

/** The desk (`baton approvals`) over this broker, its lines captured. */
function desk() {
  const lines: string[] = [];
  const loginLink = () => Promise.reject(new Error("not used here"));
  return {
    lines,
    desk: { broker: createBroker(broker.deps), clock: broker.clock, loginLink },
    out: { log: (line: string) => lines.push(line) },
  };
}

/** Text without markup, whitespace collapsed: what a person reads on the page. */
const textOf = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();

describe("the approval page shows whom a task's approval covers", () => {
  it("one request: a Covers row, each agent with its scopes, the delegate marked", async () => {
    const id = await openTrip();
    const session = await signIn(broker, ALICE);
    const page = await getPage(broker, `/approvals/${id}`, session);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<ul class="covers">');
    expect(textOf(page.html)).toContain(
      "Covers orchestrator (flights.book) flight-booker (flights.book) by delegation",
    );
    // The list shows the same card.
    const list = await getPage(broker, "/approvals", session);
    expect(textOf(list.html)).toContain("flight-booker (flights.book) by delegation");
  });

  it("an access request names no covered set", async () => {
    const user = await broker.devToken(ALICE, { agent: "orchestrator" });
    const { approval_id } = await requestApproval(
      broker,
      "orchestrator",
      accessRequest(user, "calendar", "calendar.write"),
    );
    const page = await getPage(broker, `/approvals/${approval_id}`, await signIn(broker, ALICE));
    expect(page.status).toBe(200);
    expect(page.html).not.toContain("Covers");
  });
});

describe("the operator's desk and the webhook name them too", () => {
  it("baton approvals list: covers: in the request's line; approve repeats it", async () => {
    const id = await openTrip("a trip for the desk");
    const { lines, desk: d, out } = desk();
    await listApprovals(d, out, false);
    const line = lines.find((l) => l.startsWith(id));
    expect(line).toContain(`orchestrator for ${ALICE}: trip [flights.search flights.book]`);
    expect(line).toContain(`  covers: ${WORDS}  approvers: subject`);
    await decideFromCli(d, out, id, "approved");
    expect(lines.at(-1)).toBe(
      `${id} approved (flights.search flights.book for orchestrator on trip; covers: ${WORDS}).`,
    );
  });

  it("the audit log's approval.requested carries the covered set", async () => {
    const id = await openTrip("a trip for the audit log");
    const event = broker.events.find((e) => e.type === "approval.requested" && e.approval === id);
    expect(event).toMatchObject({ type: "approval.requested", target: "trip", covers: COVERS });
  });

  it("the webhook body carries the covered set as data", async () => {
    const id = await openTrip("a trip for the webhook");
    await expect.poll(() => hook.received.some((r) => r.text.includes(id))).toBe(true);
    const body = JSON.parse(hook.received.find((r) => r.text.includes(id))?.text ?? "{}");
    expect(body).toMatchObject({ approval_id: id, target: "trip", covers: COVERS });
  });

  it("approval_status shows the agent what its task's approval covers", async () => {
    const id = await openTrip("a trip for approval_status");
    const res = await broker.post(`/approvals/${id}/status`, {}, "orchestrator");
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ approval_id: id, status: "pending", covers: COVERS });
  });
});

describe("the MCP client's prompt (form mode) for start_task names them", () => {
  it("the question lists whom the one approval covers; the user's yes opens the task", async () => {
    const asked: ElicitRequest["params"][] = [];
    const client = new Client(
      { name: "baton-test-covers", version: "0.0.0" },
      { capabilities: { elicitation: { form: {} } } },
    );
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      return { action: "accept", content: { decision: "approve" } };
    });
    const bearer = await broker.devToken(ALICE, { agent: "orchestrator" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${broker.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${bearer}` } },
      }),
    );
    try {
      const task = await callOk(client, "start_task", { purpose: "book it", template: "trip" });
      expect(task.status).toBe("active");
      expect(asked).toHaveLength(1);
      expect(asked[0]?.message).toContain(`This one approval covers: ${WORDS}.`);
    } finally {
      await client.close();
    }
  });
});
