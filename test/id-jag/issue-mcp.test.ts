/**
 * Issue 18 item 1 over MCP: `request_token` for an API behind its own authorization server
 * returns the ID-JAG, the server's token endpoint (read from its RFC 8414 metadata: here a
 * second Baton on loopback, whose metadata is real) and how to redeem it; without the metadata,
 * the ID-JAG still, and a hint that says where to look. The SDK client over Streamable HTTP.
 */

import { createServer } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invalidTarget } from "../../src/errors.js";
import { type Broker, createBroker } from "../../src/exchange/broker.js";
import { hintFor } from "../../src/mcp/hints.js";
import { remoteBroker } from "../../src/mcp/remote-broker.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { JWT_BEARER_GRANT } from "../../src/tokens/token-types.js";
import { decideAs } from "../helpers/approvals.js";
import { issuedCount } from "../helpers/assertions.js";
import { startTestBroker, T0, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";
import { ALICE, callOk, callRefused, callTool, connectHttp, decode } from "../helpers/mcp.js";
import { CHAT, CHAT_CLIENT, FILES, withOutsideApis } from "../helpers/outside-apis.js";

let as: TestBroker;
let broker: TestBroker;
let client: Client;
let down: string;

/** A loopback issuer where nothing listens: its metadata cannot be had. */
async function nobodyHome(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  as = await startTestBroker();
  down = await nobodyHome();
  broker = await startTestBroker({
    editPolicy: (data) => {
      withOutsideApis(data, as.issuer);
      data.apis.wiki.authorization_server = down;
      data.apis.files.authorization_server = down;
    },
  });
  client = await connectHttp(broker.url, await broker.devToken(ALICE, { agent: "orchestrator" }));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await broker?.close();
  await as?.close();
});

describe("request_token for an API behind its own authorization server", () => {
  it("returns the ID-JAG with the server's token endpoint and how to redeem it", async () => {
    const before = issuedCount(broker);
    const outcome = await callTool(client, "request_token", { api: "chat", scopes: ["chat.read"] });
    expect(outcome.isError, outcome.text).toBe(false);
    const { out } = outcome;
    expect(out).toEqual({
      id_jag: expect.any(String),
      token_type: "N_A",
      issued_token_type: TOKEN_TYPE.idJag,
      expires_in: 300,
      scope: "chat.read",
      audience: as.issuer,
      resource: CHAT,
      token_endpoint: `${as.issuer}/token`,
      hint: expect.stringContaining(JWT_BEARER_GRANT),
    });
    expect(issuedCount(broker)).toBe(before + 1);
    expect(decodeProtectedHeader(out.id_jag).typ).toBe("oauth-id-jag+jwt");
    expect(decode(out.id_jag)).toMatchObject({
      aud: as.issuer,
      resource: CHAT,
      client_id: CHAT_CLIENT,
      scope: "chat.read",
      exp: T0 + 300,
      act: { sub: "orchestrator" },
    });
    // Design §3.5: one line, then the token on its own.
    const [line, token, ...rest] = outcome.text.split("\n");
    expect(line).toMatch(/^ID-JAG for https:\/\/mcp\.chat\.example\/ at http:\/\/127\.0\.0\.1:/);
    expect(token).toBe(out.id_jag);
    expect(rest).toEqual([]);
  });

  it("takes the API by its resource URI too, and a task", async () => {
    const task = await callOk(client, "start_task", { purpose: "catch up", scopes: ["chat.read"] });
    const out = await callOk(client, "request_token", {
      api: CHAT,
      scopes: ["chat.read"],
      task_id: task.task_id,
    });
    expect(out.task_id).toBe(task.task_id);
    expect(decode(out.id_jag as string).txn).toBe(task.task_id);
  });

  it("without the server's metadata: the ID-JAG still, and where to find the endpoint", async () => {
    const out = await callOk(client, "request_token", { api: "files", scopes: ["files.read"] });
    expect(out.id_jag).toBeTypeOf("string");
    expect(out).not.toHaveProperty("token_endpoint");
    expect(out).toMatchObject({ audience: down, resource: FILES });
    expect(out.hint).toContain(`${down}/.well-known/oauth-authorization-server`);
    expect(out.hint).toContain(JWT_BEARER_GRANT);
  });

  it("an elevated scope waits for the user, then the ID-JAG comes with approval_id", async () => {
    const waiting = await callOk(client, "request_token", { api: "chat", scopes: ["chat.post"] });
    expect(waiting).toMatchObject({ status: "approval_required" });
    expect(waiting).not.toHaveProperty("id_jag");
    await decideAs(broker, ALICE, waiting.approval_id as string, "approve");
    const out = await callOk(client, "request_token", {
      api: "chat",
      scopes: ["chat.post"],
      approval_id: waiting.approval_id,
    });
    expect(decode(out.id_jag as string)).toMatchObject({ scope: "chat.post", aud: as.issuer });
  });

  it("refuses a scope beyond the API, with a hint, issuing nothing", async () => {
    const before = issuedCount(broker);
    const refusal = await callRefused(
      client,
      "request_token",
      { api: "chat", scopes: ["calendar.read"] },
      "invalid_scope",
    );
    expect(refusal.hint).toContain("chat.read");
    expect(issuedCount(broker)).toBe(before);
  });

  it("an API that takes access tokens is unchanged", async () => {
    const out = await callOk(client, "request_token", {
      api: "calendar",
      scopes: ["calendar.read"],
    });
    expect(out.access_token).toBeTypeOf("string");
    expect(out).not.toHaveProperty("id_jag");
    expect(out.token_type).toBe("Bearer");
  });

  it("whoami marks the API with its server", async () => {
    const view = await callOk(client, "whoami");
    expect(view.apis.find((a: { id: string }) => a.id === "chat")).toMatchObject({
      resource: CHAT,
      authorization_server: as.issuer,
    });
  });

  it("an agent with no client at that server is refused, told not to retry", async () => {
    const researcher = await connectHttp(
      broker.url,
      await broker.devToken(ALICE, { agent: "researcher" }),
    );
    try {
      const before = issuedCount(broker);
      const refusal = await callRefused(
        researcher,
        "request_token",
        { api: "chat", scopes: ["chat.read"] },
        "invalid_target",
      );
      expect(refusal.hint).toBe(
        "This agent has no client at that API's authorization server (policy client_ids), so it cannot use that API. Do not retry; tell the user.",
      );
      expect(refusal.error_description).toBe(
        "This agent has no client at the authorization server of the target",
      );
      expect(issuedCount(broker)).toBe(before);
    } finally {
      await researcher.close();
    }
  });
});

/** The real broker, every operation it is asked counted (a wrapper of the interface). */
function counted(inner: Broker, calls: string[]): Broker {
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

/** An SDK client on an MCP server over the core in this process, or over HTTP (`--broker`). */
async function inMemory(inner: Broker, calls: string[]): Promise<Client> {
  const subject = await broker.devToken(ALICE, { agent: "orchestrator" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer({
    broker: counted(inner, calls),
    caller: { agentId: "orchestrator" },
    subjectToken: async () => subject,
    userDecides: true,
  }).connect(serverSide);
  const mcp = new Client({ name: "id-jag-test", version: "0.0.0" });
  await mcp.connect(clientSide);
  return mcp;
}

describe("one path, two modes (design §5)", () => {
  it("embedded: one core call per request_token, an ID-JAG or an access token", async () => {
    const calls: string[] = [];
    const mcp = await inMemory(createBroker(broker.deps), calls);
    try {
      const out = await callOk(mcp, "request_token", { api: "chat", scopes: ["chat.read"] });
      expect(decode(out.id_jag as string).aud).toBe(as.issuer);
      expect(out.token_endpoint).toBe(`${as.issuer}/token`);
      await callOk(mcp, "request_token", { api: "calendar", scopes: ["calendar.read"] });
      expect(calls).toEqual(["exchange", "exchange"]);
    } finally {
      await mcp.close();
    }
  });

  it("remote (baton mcp --broker): the same ID-JAG, the server learnt from /whoami once", async () => {
    const calls: string[] = [];
    const remote = remoteBroker({
      broker: broker.url,
      agentId: "orchestrator",
      clientSecret: broker.secrets.orchestrator ?? "",
    });
    const mcp = await inMemory(remote, calls);
    try {
      const idJags = () =>
        broker.events.filter((e) => e.type === "exchange.issued" && e.kind === "id_jag").length;
      const before = idJags();
      for (const api of ["chat", CHAT]) {
        const out = await callOk(mcp, "request_token", { api, scopes: ["chat.read"] });
        expect(out).toMatchObject({
          token_type: "N_A",
          issued_token_type: TOKEN_TYPE.idJag,
          audience: as.issuer,
          resource: CHAT,
          token_endpoint: `${as.issuer}/token`,
        });
        expect(decode(out.id_jag as string)).toMatchObject({ client_id: CHAT_CLIENT });
      }
      expect(idJags() - before).toBe(2);
      const access = await callOk(mcp, "request_token", { api: "docs", scopes: ["docs.read"] });
      expect(access.token_type).toBe("Bearer");
      expect(calls).toEqual(["exchange", "exchange", "exchange"]);
    } finally {
      await mcp.close();
    }
  });
});

describe("hints for the three target rules (design §3.5)", () => {
  const context = { tool: "request_token" };
  it("name the next call, or say not to retry", () => {
    expect(hintFor(invalidTarget("x", "target.id_jag_only"), context)).toBe(
      "That API is behind its own authorization server: it takes an ID-JAG, never an access token. Call request_token again with the same api: it returns id_jag and where to redeem it.",
    );
    expect(hintFor(invalidTarget("x", "target.not_id_jag"), context)).toBe(
      "That API takes access tokens from this broker, not ID-JAGs. Call request_token again with the same api.",
    );
    expect(hintFor(invalidTarget("x", "target.client_id"), context)).toContain("Do not retry");
  });
});
