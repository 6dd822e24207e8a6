/**
 * Issue 3, "done when" (Streamable HTTP): the SDK `Client` drives `/mcp` of a real broker. The
 * orchestrator, in a session opened with alice's token, lists tools, gets a token and delegates
 * to flight-booker; flight-booker, in its OWN session, redeems the delegation token: the final
 * token's `act` is nested and its scope lies within both parents'. Also: another user's
 * delegation token is refused in alice's session, and revoke_token cascades to what was
 * derived from the revoked token (rule 7), as POST /introspect shows.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";
import {
  ALICE,
  BOB,
  callOk,
  callRefused,
  connectHttp,
  decode,
  expectTools,
} from "../helpers/mcp.js";

let broker: TestBroker;
const clients: Client[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await broker.close();
});

/** A session for `agent` acting for `user`: the bearer is the user's token naming the agent. */
async function session(user: string, agent: string): Promise<Client> {
  const client = await connectHttp(broker.url, await broker.devToken(user, { agent }));
  clients.push(client);
  return client;
}

const scopeSet = (scope: unknown) => new Set(String(scope).split(" "));

/** POST /introspect as `agent` (client-authenticated, RFC 7662). */
async function introspect(token: string, agent = "orchestrator"): Promise<Record<string, any>> {
  const res = await broker.post("/introspect", { token }, agent);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

describe("MCP over Streamable HTTP: user → orchestrator → flight-booker", () => {
  let orchestrator: Client;
  let booker: Client;
  let delegation: Record<string, any>;
  let final: Record<string, any>;

  beforeAll(async () => {
    orchestrator = await session(ALICE, "orchestrator");
    booker = await session(ALICE, "flight-booker");
  });

  it("lists the tools with titles, annotations and schemas", async () => {
    await expectTools(orchestrator);
  });

  it("whoami names the bearer's user and agent, never an argument", async () => {
    const me = await callOk(orchestrator, "whoami");
    expect(me).toMatchObject({
      subject: ALICE,
      agent: "orchestrator",
      chain: ["orchestrator"],
      delegate_to: [
        { agent: "flight-booker", scopes: expect.any(Array) },
        { agent: "researcher", scopes: expect.any(Array) },
      ],
    });
  });

  it("request_token gives a calendar token acting for alice, the orchestrator in act", async () => {
    const out = await callOk(orchestrator, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
    });
    expect(out).toMatchObject({
      token_type: "Bearer",
      issued_token_type: TOKEN_TYPE.accessToken,
      scope: "calendar.read",
      expires_in: 300,
    });
    expect(decode(out.access_token)).toMatchObject({
      iss: broker.issuer,
      sub: ALICE,
      aud: "https://calendar.example.com",
      client_id: "orchestrator",
      scope: "calendar.read",
      act: { sub: "orchestrator" },
    });
  });

  it("delegate gives flight-booker a delegation token, narrowed", async () => {
    delegation = await callOk(orchestrator, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search", "docs.read"],
      ttl_seconds: 900,
    });
    expect(delegation).toMatchObject({
      to_agent: "flight-booker",
      scope: "flights.search docs.read",
      expires_in: 900,
    });
    expect(decode(delegation.delegation_token)).toMatchObject({
      sub: ALICE,
      aud: broker.issuer,
      act: { sub: "orchestrator" },
      may_act: { sub: "flight-booker" },
    });
  });

  it("flight-booker, in its own session, redeems it: nested act, scope within both parents'", async () => {
    const me = await callOk(booker, "whoami");
    expect(me).toMatchObject({ subject: ALICE, agent: "flight-booker", chain: ["flight-booker"] });

    final = await callOk(booker, "request_token", {
      api: "flights",
      scopes: ["flights.search"],
      ttl_seconds: 3600,
      subject_token: delegation.delegation_token,
    });
    const claims = decode(final.access_token);
    const parent = decode(delegation.delegation_token);
    expect(claims).toMatchObject({
      sub: ALICE,
      aud: "https://flights.example.com",
      client_id: "flight-booker",
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    expect(claims.may_act).toBeUndefined();
    // Within the delegation token's scope and the orchestrator's, and what flight-booker may hold.
    const granted = scopeSet(claims.scope);
    const mayHold = (agent: string) => new Set(broker.policy.agents.get(agent)?.scopes ?? []);
    expect(granted.size).toBeGreaterThan(0);
    for (const s of granted) {
      expect(scopeSet(parent.scope).has(s), `${s} in the delegation token`).toBe(true);
      expect(mayHold("orchestrator").has(s), `${s} within the orchestrator's scopes`).toBe(true);
      expect(mayHold("flight-booker").has(s), `${s} within flight-booker's scopes`).toBe(true);
    }
    // Asked for an hour; the delegation token ends sooner, so does this one.
    expect(claims.exp).toBe(parent.exp);
  });

  it("the sub-agent cannot widen: a scope outside the delegation token is refused", async () => {
    await callRefused(
      booker,
      "request_token",
      { api: "docs", scopes: ["docs.write"], subject_token: delegation.delegation_token },
      "invalid_scope",
    );
  });

  it("refuses another user's delegation token in alice's sub-agent session", async () => {
    const bobs = await session(BOB, "orchestrator");
    const forBob = await callOk(bobs, "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search"],
    });
    expect(decode(forBob.delegation_token).sub).toBe(BOB);
    const before = broker.events.length;
    const refusal = await callRefused(
      booker,
      "request_token",
      { api: "flights", scopes: ["flights.search"], subject_token: forBob.delegation_token },
      "invalid_request",
    );
    expect(refusal.hint).toMatch(/delegation token/);
    const events = broker.events.slice(before);
    expect(events.filter((e) => e.type === "exchange.issued")).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({ type: "exchange.denied", rule: "subject.session" }),
    );
  });

  it("revoke_token on the delegation token makes the derived token inactive (rule 7)", async () => {
    expect((await introspect(final.access_token)).active).toBe(true);
    const out = await callOk(orchestrator, "revoke_token", { token: delegation.delegation_token });
    expect(out).toEqual({ revoked: true });
    expect(await introspect(final.access_token)).toEqual({ active: false });
    expect(await introspect(delegation.delegation_token)).toEqual({ active: false });
    // And the sub-agent can no longer redeem it.
    await callRefused(
      booker,
      "request_token",
      { api: "flights", scopes: ["flights.search"], subject_token: delegation.delegation_token },
      "invalid_request",
    );
  });
});
