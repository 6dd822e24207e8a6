/**
 * Policy `agents.<id>.delegated_only` (design §3.3, issue 16 item 3): such an agent acts only on a
 * delegation token naming it in `may_act`. On its user's own token, whoever issued it (the dev
 * issuer, a trusted issuer, the MCP session's), every exchange, task start and delegation is
 * refused: 400 invalid_request with the fixed subject description, rule
 * `subject.delegated_only`, nothing issued; over MCP the hint says to pass the delegation token
 * it was given as `subject_token`. Describing its session (whoami) is no act, and stays allowed.
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBroker, explainGrant } from "../../src/exchange/broker.js";
import { embeddedSession } from "../../src/mcp/embedded-session.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { exchange, expectIssued, expectRefused, issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callOk, callRefused, connectHttp } from "../helpers/mcp.js";
import { accessForm, delegationForm, lastDeniedRule, postTask } from "../helpers/tasks.js";

const BOOKER = "flight-booker";
const FIXED = "The presented token is not acceptable";

let broker: TestBroker;
/** Alice's own token, bound to flight-booker: the user's authority, not a delegation. */
let own: string;
/** A delegation from the orchestrator to flight-booker: the one kind it may act on. */
let delegation: string;

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.agents[BOOKER].delegated_only = true;
    },
  });
  own = await broker.devToken(ALICE, { agent: BOOKER });
  const orchestrator = await broker.devToken(ALICE, { agent: "orchestrator" });
  delegation = (
    await expectIssued(
      broker,
      exchange(broker, delegationForm(orchestrator, BOOKER, "flights.search"), "orchestrator"),
    )
  ).token;
});
afterAll(() => broker.close());

/** A refusal over HTTP: 400 invalid_request, the fixed description, the rule, nothing issued. */
async function expectNotDelegated(response: Promise<Response>): Promise<void> {
  const { body } = await expectRefused(broker, response, 400, "invalid_request");
  expect(body.error_description).toBe(FIXED);
  expect(lastDeniedRule(broker)).toBe("subject.delegated_only");
}

describe("delegated_only over HTTP: the user's own token is refused, a delegation is not", () => {
  it("an access token on the dev issuer's token: 400 invalid_request, nothing issued", async () => {
    await expectNotDelegated(
      exchange(broker, accessForm(own, "flights", "flights.search"), BOOKER),
    );
  });

  it("an access token on a trusted issuer's token: refused the same", async () => {
    const idp = await broker.idpToken({ sub: ALICE, scope: "flights.search" });
    await expectNotDelegated(
      exchange(broker, accessForm(idp, "flights", "flights.search"), BOOKER),
    );
  });

  it("a delegation on its own token (to researcher, an edge it has): refused the same", async () => {
    await expectNotDelegated(
      exchange(broker, delegationForm(own, "researcher", "flights.search"), BOOKER),
    );
  });

  it("a task on its own token: 400 invalid_request, no task opened", async () => {
    const before = broker.events.filter((e) => e.type === "task.started").length;
    const res = await postTask(broker, BOOKER, own, { scope: "flights.search" });
    const text = await res.text();
    expect({ status: res.status, error: JSON.parse(text).error }, text).toEqual({
      status: 400,
      error: "invalid_request",
    });
    expect(JSON.parse(text).error_description).toBe(FIXED);
    expect(broker.events.filter((e) => e.type === "task.started")).toHaveLength(before);
  });

  it("on the delegation naming it: a token, and a delegation further down its edge", async () => {
    await expectIssued(
      broker,
      exchange(broker, accessForm(delegation, "flights", "flights.search"), BOOKER),
    );
    await expectIssued(
      broker,
      exchange(broker, delegationForm(delegation, "researcher", "flights.search"), BOOKER),
    );
  });

  it("another agent, not delegated_only, still acts on its own token", async () => {
    const orchestrator = await broker.devToken(ALICE, { agent: "orchestrator" });
    await expectIssued(
      broker,
      exchange(broker, accessForm(orchestrator, "flights", "flights.search"), "orchestrator"),
    );
  });
});

describe("delegated_only over MCP: the hint names the delegation token as subject_token", () => {
  let client: Client;
  beforeAll(async () => {
    const session = embeddedSession(
      createBroker(broker.deps),
      { agentId: BOOKER },
      async () => own,
    );
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await createMcpServer(session).connect(serverSide);
    client = new Client({ name: "delegated-only-test", version: "0.0.0" });
    await client.connect(clientSide);
  });

  /** A refusal whose hint says how to act: pass the delegation token as subject_token. */
  async function refusedHint(tool: string, args: Record<string, unknown>): Promise<string> {
    const issued = issuedCount(broker);
    const { hint, error_description } = await callRefused(client, tool, args, "invalid_request");
    expect(issuedCount(broker)).toBe(issued);
    expect(error_description).toBe(FIXED);
    // Only exchanges write `exchange.denied`; a refused task start writes no event.
    if (tool !== "start_task") expect(lastDeniedRule(broker)).toBe("subject.delegated_only");
    expect(hint).toContain("subject_token");
    expect(hint).toContain("delegation token");
    expect(hint).not.toMatch(/reconnect/i);
    return hint;
  }

  it("request_token on the session's own token: refused, call it again with subject_token", async () => {
    const hint = await refusedHint("request_token", { api: "flights", scopes: ["flights.search"] });
    expect(hint).toContain("call request_token again");
  });

  it("delegate on the session's own token: refused, call it again with subject_token", async () => {
    const hint = await refusedHint("delegate", {
      to_agent: "researcher",
      scopes: ["flights.search"],
    });
    expect(hint).toContain("call delegate again");
  });

  it("start_task: refused, work under the delegation through request_token instead", async () => {
    const hint = await refusedHint("start_task", { purpose: "book", scopes: ["flights.search"] });
    expect(hint).toContain("call request_token");
  });

  it("with the delegation token as subject_token: a token", async () => {
    const out = await callOk(client, "request_token", {
      api: "flights",
      scopes: ["flights.search"],
      subject_token: delegation,
    });
    expect(out.scope).toBe("flights.search");
  });

  it("whoami on its own session is no act: answered", async () => {
    await callOk(client, "whoami", {});
  });

  it("an HTTP /mcp session on the user's bearer token: refused the same", async () => {
    const http = await connectHttp(broker.url, await broker.devToken(ALICE, { agent: BOOKER }));
    try {
      const { hint } = await callRefused(
        http,
        "request_token",
        { api: "flights", scopes: ["flights.search"] },
        "invalid_request",
      );
      expect(hint).toContain("subject_token");
    } finally {
      await http.close();
    }
  });
});

describe("baton policy explain replays delegated_only: no drift from the decision", () => {
  it("flight-booker on the user's own token: refused, subject.delegated_only", () => {
    const explanation = explainGrant(broker.policy, {
      agent: BOOKER,
      api: "flights",
      scopes: ["flights.search"],
    });
    expect(explanation.verdict).toEqual({
      kind: "refused",
      error: "invalid_request",
      rule: "subject.delegated_only",
    });
  });

  it("through orchestrator's delegation: issued", () => {
    const explanation = explainGrant(broker.policy, {
      agent: BOOKER,
      api: "flights",
      scopes: ["flights.search"],
      via: ["orchestrator"],
    });
    expect(explanation.verdict).toEqual({ kind: "issued" });
  });
});
