/**
 * Issue 14 item 10: `revoke_token` tells the truth. A string that is no live token of this
 * broker (garbage, another issuer's token, an expired or already revoked one) is not an error
 * (RFC 7009 §2.2) but answers `{revoked: false}` with a hint; only a real revocation answers
 * `{revoked: true}`. Both backends, each driven by the SDK client: the core (a Streamable HTTP
 * session on the broker) and `baton mcp --broker` (a spawned process whose remote backend asks
 * `/introspect`, then `/revoke`, of the same broker), with the same results.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { Children } from "../helpers/cli-process.js";
import {
  ALICE,
  BOB,
  callOk,
  callRefused,
  callTool,
  connectHttp,
  connectStdio,
} from "../helpers/mcp.js";

const JWT_LIKE = /eyJ[\w-]+\.[\w-]+\.[\w-]*/;
const NOTHING_REVOKED = /^Nothing to revoke: this is not a live token Baton issued\./;

const children = new Children();
let broker: TestBroker;
const clients: Record<string, Client> = {};
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  const bearer = await broker.devToken(ALICE, { agent: "orchestrator" });
  clients.core = await connectHttp(broker.url, bearer);
  closers.push(() => (clients.core as Client).close());
  const remote = await connectStdio(children, ["--agent", "orchestrator", "--broker", broker.url], {
    BATON_CLIENT_SECRET: broker.secrets.orchestrator as string,
    BATON_SUBJECT_TOKEN: bearer,
  });
  clients.remote = remote.client;
  closers.push(() => remote.close());
}, 60_000);

afterAll(async () => {
  for (const close of closers) await close();
  await children.cleanup();
  await broker?.close();
});

const revocations = () => broker.events.filter((e) => e.type === "token.revoked").length;

async function isActive(token: string): Promise<boolean> {
  const res = await broker.post("/introspect", { token }, "orchestrator");
  return ((await res.json()) as { active: boolean }).active;
}

/** A fresh access token of the orchestrator's, through the MCP session itself. */
async function obtain(client: Client, ttl?: number): Promise<string> {
  const out = await callOk(client, "request_token", {
    api: "docs",
    scopes: ["docs.read"],
    ...(ttl === undefined ? {} : { ttl_seconds: ttl }),
  });
  return out.access_token as string;
}

/** `revoke_token` on something with nothing to revoke: `{revoked: false}`, a hint, no event. */
async function expectNothingRevoked(client: Client, token: string): Promise<string> {
  const before = revocations();
  const outcome = await callTool(client, "revoke_token", { token });
  expect(outcome.isError, outcome.text).toBe(false);
  expect(outcome.out).toEqual({ revoked: false, hint: expect.stringMatching(NOTHING_REVOKED) });
  // The hint names the next call and never echoes the input.
  expect(outcome.out.hint).toMatch(/request_token or delegate/);
  expect(JSON.stringify(outcome)).not.toContain(token);
  expect(JSON.stringify(outcome)).not.toMatch(JWT_LIKE);
  expect(revocations(), "no token.revoked event").toBe(before);
  return outcome.out.hint as string;
}

describe.each([
  ["core", "the core backend, in a Streamable HTTP session"],
  ["remote", "baton mcp --broker, over /introspect and /revoke"],
])("revoke_token through %s (%s)", (mode) => {
  const client = () => clients[mode] as Client;

  it("garbage and another issuer's token: {revoked: false} with a hint", async () => {
    const foreign = await broker.idpToken({ sub: ALICE });
    for (const token of ["garbage", "a.b.c", foreign]) await expectNothingRevoked(client(), token);
  });

  it("a real revocation: {revoked: true}, one token.revoked event, and the token is inactive", async () => {
    const token = await obtain(client());
    expect(await isActive(token)).toBe(true);
    const before = revocations();
    const out = await callOk(client(), "revoke_token", { token });
    expect(out).toEqual({ revoked: true });
    expect(revocations()).toBe(before + 1);
    expect(await isActive(token)).toBe(false);
  });

  it("the same token again: {revoked: false}, it was revoked already", async () => {
    const token = await obtain(client());
    expect(await callOk(client(), "revoke_token", { token })).toEqual({ revoked: true });
    await expectNothingRevoked(client(), token);
    expect(await isActive(token)).toBe(false);
  });

  it("a token whose parent is revoked: {revoked: false}, nothing left to revoke", async () => {
    const delegation = await callOk(client(), "delegate", {
      to_agent: "flight-booker",
      scopes: ["flights.search"],
    });
    const child = await broker.post(
      "/token",
      {
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: delegation.delegation_token,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        audience: "flights",
        scope: "flights.search",
      },
      "flight-booker",
    );
    const access = ((await child.json()) as { access_token: string }).access_token;
    expect(await isActive(access)).toBe(true);
    expect(await callOk(client(), "revoke_token", { token: delegation.delegation_token })).toEqual({
      revoked: true,
    });
    // The orchestrator is in the sub-agent's chain, so it may revoke it; it is dead already.
    await expectNothingRevoked(client(), access);
  });

  it("an expired token: {revoked: false}", async () => {
    const token = await obtain(client(), 1);
    // Past its exp and the broker's clock skew (30 s).
    broker.clock.advance(120);
    expect(await isActive(token)).toBe(false);
    await expectNothingRevoked(client(), token);
  });

  it("a live token of someone else's: refused unauthorized_client, still active", async () => {
    const bobs = await broker.devToken(BOB, { agent: "flight-booker" });
    const before = revocations();
    await callRefused(client(), "revoke_token", { token: bobs }, "unauthorized_client");
    expect(revocations()).toBe(before);
    const res = await broker.post("/introspect", { token: bobs }, "flight-booker");
    expect(((await res.json()) as { active: boolean }).active).toBe(true);
  });
});

describe("POST /revoke stays RFC 7009: 200 and an empty body whatever the token", () => {
  it("rfc7009 §2.2: garbage, another issuer's token, and one revoked already answer 200", async () => {
    const token = await obtain(clients.core as Client);
    expect(await callOk(clients.core as Client, "revoke_token", { token })).toEqual({
      revoked: true,
    });
    for (const t of ["garbage", await broker.idpToken({ sub: ALICE }), token]) {
      const res = await broker.post("/revoke", { token: t }, "orchestrator");
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });
});
