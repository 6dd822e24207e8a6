/**
 * `/mcp` as an OAuth protected resource (MCP authorization 2025-11-25, RFC 9728, RFC 6750) and
 * its transport guards (issue 3, deliverable 2): the bearer token, the RFC 9728 metadata, the
 * sessions bound to their user and agent, DNS rebinding, the body limit. Raw HTTP over loopback
 * (node:http, so that Host can be set) and the SDK client, against a real broker. Every refusal
 * also asserts that no token was issued.
 */

import { request } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const METADATA_PATH = "/.well-known/oauth-protected-resource/mcp";

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "http-auth-test", version: "0.0.0" },
  },
};

/** A tool call that would issue a token if it ran. */
const REQUEST_TOKEN = {
  jsonrpc: "2.0",
  id: 7,
  method: "tools/call",
  params: { name: "request_token", arguments: { api: "calendar", scopes: ["calendar.read"] } },
};

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

interface Send {
  readonly method?: string;
  /** The whole Authorization header; `token` is shorthand for `Bearer <token>`. */
  readonly authorization?: string;
  readonly token?: string;
  readonly sessionId?: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

/**
 * One request to `/mcp` over node:http (fetch would not let a test set Host). JSON bodies are
 * serialised; a string body is sent as is.
 */
function send(options: Send): Promise<Reply> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string | number> = {
    accept: "application/json, text/event-stream",
    ...(body === undefined
      ? {}
      : { "content-type": "application/json", "content-length": Buffer.byteLength(body) }),
    "mcp-protocol-version": "2025-11-25",
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
    ...(options.sessionId === undefined ? {} : { "mcp-session-id": options.sessionId }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request(
      `${broker.url}/mcp`,
      { method: options.method ?? "POST", headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    // The server may answer (413) before the whole body is sent.
    req.on("error", reject);
    req.end(body);
  });
}

/** The JSON-RPC messages of a reply, whether plain JSON or an SSE stream. */
function messages(reply: Reply): any[] {
  if (String(reply.headers["content-type"]).startsWith("text/event-stream")) {
    return reply.text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)));
  }
  return reply.text === "" ? [] : [JSON.parse(reply.text)];
}

/**
 * Sends a request that must be refused: the exact status, a JSON-RPC error body, no session
 * id handed out, and no token issued meanwhile. Returns the reply.
 */
async function expectRefused(options: Send, status: number): Promise<Reply> {
  const before = issuedCount(broker);
  const reply = await send(options);
  expect(reply.status, reply.text).toBe(status);
  expect(JSON.parse(reply.text)).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
  expect(reply.headers["mcp-session-id"], "no session may be opened").toBeUndefined();
  expect(issuedCount(broker), "no token may be issued").toBe(before);
  return reply;
}

/** A 401 with the RFC 9728 challenge; `error` is the RFC 6750 code, or none. */
async function expectUnauthorized(options: Send, error?: string): Promise<void> {
  const reply = await expectRefused(options, 401);
  const metadata = `resource_metadata="${broker.issuer}${METADATA_PATH}"`;
  expect(reply.headers["www-authenticate"]).toBe(
    error === undefined ? `Bearer ${metadata}` : `Bearer ${metadata}, error="${error}"`,
  );
}

/** Opens a session with a raw initialize (and the initialized notification); its id. */
async function openSession(token: string): Promise<string> {
  const reply = await send({ token, body: INITIALIZE });
  expect(reply.status, reply.text).toBe(200);
  const sessionId = reply.headers["mcp-session-id"];
  expect(sessionId).toBeTypeOf("string");
  const initialized = await send({
    token,
    sessionId: sessionId as string,
    body: { jsonrpc: "2.0", method: "notifications/initialized" },
  });
  expect(initialized.status).toBe(202);
  return sessionId as string;
}

/** A token the broker issued through `POST /token` as `agent`. */
async function exchanged(agent: string, form: Record<string, string>): Promise<string> {
  const res = await broker.post(
    "/token",
    {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: await broker.devToken(ALICE, { agent }),
      subject_token_type: TOKEN_TYPE.jwt,
      ...form,
    },
    agent,
  );
  const body = (await res.json()) as { access_token: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}

describe("the bearer token (RFC 6750, MCP authorization 2025-11-25)", () => {
  it("no Authorization header: 401 with the resource_metadata challenge and no error code", async () => {
    await expectUnauthorized({ body: INITIALIZE });
  });

  it("another authentication scheme counts as no credentials: no error code (RFC 6750 §3.1)", async () => {
    await expectUnauthorized({
      authorization: "Basic b3JjaGVzdHJhdG9yOnNlY3JldA==",
      body: INITIALIZE,
    });
  });

  it.each([
    ["a bare scheme", "Bearer"],
    ["two tokens", "Bearer abc def"],
    ["characters outside token68", "Bearer abc$def"],
  ])("a malformed Bearer credential (%s): 401, invalid_request", async (_, authorization) => {
    await expectUnauthorized({ authorization, body: INITIALIZE }, "invalid_request");
  });

  it("a token that is not a JWT: 401, invalid_token", async () => {
    await expectUnauthorized({ token: "not-a-jwt", body: INITIALIZE }, "invalid_token");
  });

  it("an outside issuer's token for another audience: 401, invalid_token", async () => {
    const token = await broker.idpToken({
      sub: ALICE,
      azp: "orchestrator",
      aud: "https://other.example",
    });
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("an outside issuer's token for the broker but not for its MCP resource: 401", async () => {
    // The default aud of the test IdP is the issuer itself: a subject token, not a bearer.
    const token = await broker.idpToken({ sub: ALICE, azp: "orchestrator" });
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("the same outside issuer's token for the MCP resource is accepted (the control)", async () => {
    const token = await broker.idpToken({
      sub: ALICE,
      azp: "orchestrator",
      aud: `${broker.issuer}/mcp`,
    });
    await openSession(token);
  });

  it("an expired token: 401, invalid_token", async () => {
    const token = await broker.devToken(ALICE, { agent: "orchestrator", ttl: 60 });
    await openSession(token); // valid now
    broker.clock.advance(3600);
    try {
      await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
    } finally {
      broker.clock.advance(-3600);
    }
  });

  it("a Baton access token for an API: 401, invalid_token", async () => {
    const token = await exchanged("orchestrator", { audience: "calendar", scope: "calendar.read" });
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("a delegation token: 401, invalid_token", async () => {
    const token = await exchanged("orchestrator", {
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "flights.search",
    });
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("a token that names no agent (no azp, no client_id): 401, invalid_token", async () => {
    const token = await broker.devToken(ALICE);
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("a token that names an agent the policy does not know: 401, invalid_token", async () => {
    const token = await broker.idpToken({
      sub: ALICE,
      azp: "ghost",
      aud: `${broker.issuer}/mcp`,
    });
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("a token that names a disabled agent: 401, invalid_token", async () => {
    const token = await broker.devToken(ALICE, { agent: "retired" });
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
  });

  it("a revoked token: 401, invalid_token, also inside the session it opened", async () => {
    const token = await broker.devToken(ALICE, { agent: "orchestrator" });
    const sessionId = await openSession(token);
    const res = await broker.post("/revoke", { token }, "orchestrator");
    expect(res.status).toBe(200);
    await expectUnauthorized({ token, body: INITIALIZE }, "invalid_token");
    await expectUnauthorized({ token, sessionId, body: REQUEST_TOKEN }, "invalid_token");
  });
});

describe("RFC 9728 protected resource metadata", () => {
  it.each([METADATA_PATH, "/.well-known/oauth-protected-resource"])(
    "%s names the resource, its authorization servers and the header method",
    async (path) => {
      const res = await fetch(`${broker.url}${path}`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc.resource).toBe(`${broker.issuer}/mcp`);
      // The development issuer is on in the test policy, and https://idp.test is trusted.
      expect(doc.authorization_servers).toEqual([broker.issuer, broker.idp.issuer]);
      expect(doc.bearer_methods_supported).toEqual(["header"]);
    },
  );

  it("the challenge's resource_metadata URL serves that document", async () => {
    const reply = await send({ body: INITIALIZE });
    const url = /resource_metadata="([^"]+)"/.exec(String(reply.headers["www-authenticate"]))?.[1];
    expect(url).toBe(`${broker.issuer}${METADATA_PATH}`);
    const doc = (await (await fetch(url as string)).json()) as { resource: string };
    expect(doc.resource).toBe(`${broker.issuer}/mcp`);
  });
});

describe("sessions are bound to the user and the agent that opened them", () => {
  let alice: string;
  let sessionId: string;
  beforeAll(async () => {
    alice = await broker.devToken(ALICE, { agent: "orchestrator" });
    sessionId = await openSession(alice);
  });

  it("the owner's own token works in the session (the control)", async () => {
    const before = issuedCount(broker);
    const reply = await send({ token: alice, sessionId, body: REQUEST_TOKEN });
    expect(reply.status, reply.text).toBe(200);
    expect(messages(reply)[0]?.result?.isError).not.toBe(true);
    expect(issuedCount(broker)).toBe(before + 1);
  });

  it("another user's token with that session id: 403, and nothing runs", async () => {
    const bob = await broker.devToken(BOB, { agent: "orchestrator" });
    const events = broker.events.length;
    await expectRefused({ token: bob, sessionId, body: REQUEST_TOKEN }, 403);
    expect(broker.events.slice(events), "nothing may run in the session").toEqual([]);
  });

  it("the same user through another agent's token: 403, and nothing runs", async () => {
    const booker = await broker.devToken(ALICE, { agent: "flight-booker" });
    const events = broker.events.length;
    await expectRefused({ token: booker, sessionId, body: REQUEST_TOKEN }, 403);
    expect(broker.events.slice(events)).toEqual([]);
  });

  it("a session id the server never issued: 404", async () => {
    await expectRefused({ token: alice, sessionId: "no-such-session", body: REQUEST_TOKEN }, 404);
  });

  it("DELETE ends the session; the id is then unknown (404)", async () => {
    const own = await openSession(alice);
    const deleted = await send({ method: "DELETE", token: alice, sessionId: own });
    expect(deleted.status).toBe(200);
    await expectRefused({ token: alice, sessionId: own, body: REQUEST_TOKEN }, 404);
  });

  it("another user cannot DELETE the session (403); it still works after", async () => {
    const bob = await broker.devToken(BOB, { agent: "orchestrator" });
    await expectRefused({ method: "DELETE", token: bob, sessionId }, 403);
    const ping = await send({
      token: alice,
      sessionId,
      body: { jsonrpc: "2.0", id: 9, method: "ping" },
    });
    expect(messages(ping)[0]).toMatchObject({ id: 9, result: {} });
  });

  it("the SDK client: a session id replayed with another user's token is refused", async () => {
    const client = new Client({ name: "http-auth-test", version: "0.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${broker.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${alice}` } },
    });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.length).toBe(8);
      const bob = await broker.devToken(BOB, { agent: "orchestrator" });
      await expectRefused(
        { token: bob, sessionId: transport.sessionId as string, body: REQUEST_TOKEN },
        403,
      );
    } finally {
      await client.close();
    }
  });
});

describe("DNS rebinding: Host and Origin are checked before anything else", () => {
  let token: string;
  beforeAll(async () => {
    token = await broker.devToken(ALICE, { agent: "orchestrator" });
  });

  it("a foreign Host: 403, even with a valid token", async () => {
    const reply = await expectRefused(
      { token, headers: { host: "evil.example.com" }, body: INITIALIZE },
      403,
    );
    expect(reply.headers["www-authenticate"]).toBeUndefined();
  });

  it("a foreign Host without a token: 403 too (no challenge that leaks the metadata URL)", async () => {
    const reply = await expectRefused(
      { headers: { host: "evil.example.com" }, body: INITIALIZE },
      403,
    );
    expect(reply.headers["www-authenticate"]).toBeUndefined();
  });

  it("a foreign Origin on a loopback Host: 403", async () => {
    await expectRefused(
      { token, headers: { origin: "http://evil.example.com" }, body: INITIALIZE },
      403,
    );
  });

  it("a loopback Origin on another port: 403 (another local site is another origin)", async () => {
    const other = `http://127.0.0.1:${Number(new URL(broker.url).port) + 1}`;
    await expectRefused({ token, headers: { origin: other }, body: INITIALIZE }, 403);
  });

  it("a loopback Host name with an allowed Origin: accepted", async () => {
    const { port } = new URL(broker.url);
    const reply = await send({
      token,
      headers: { host: `localhost:${port}`, origin: `http://localhost:${port}` },
      body: INITIALIZE,
    });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.headers["mcp-session-id"]).toBeTypeOf("string");
    expect(messages(reply)[0]?.result?.serverInfo?.name).toBe("baton");
  });
});

describe("request bodies are limited (256 KiB)", () => {
  const LIMIT = 256 * 1024;
  let token: string;
  beforeAll(async () => {
    token = await broker.devToken(ALICE, { agent: "orchestrator" });
  });

  /** An initialize request padded to exactly `size` bytes. */
  function initializeOf(size: number): string {
    const base = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, pad: "" } });
    return base.replace('"pad":""', `"pad":"${"x".repeat(size - base.length)}"`);
  }

  it("a body of the limit is accepted (the control)", async () => {
    const body = initializeOf(LIMIT);
    expect(Buffer.byteLength(body)).toBe(LIMIT);
    const reply = await send({ token, body });
    expect(reply.status, reply.text.slice(0, 200)).toBe(200);
  });

  it("one byte over the limit: 413, and no session is opened", async () => {
    await expectRefused({ token, body: initializeOf(LIMIT + 1) }, 413);
  });

  it("over the limit inside a session: 413, and the session still works", async () => {
    const sessionId = await openSession(token);
    const big = {
      ...REQUEST_TOKEN,
      params: { ...REQUEST_TOKEN.params, arguments: { api: "x".repeat(LIMIT), scopes: [] } },
    };
    await expectRefused({ token, sessionId, body: big }, 413);
    const ping = await send({
      token,
      sessionId,
      body: { jsonrpc: "2.0", id: 3, method: "ping" },
    });
    expect(messages(ping)[0]).toMatchObject({ id: 3, result: {} });
  });
});

describe("idle sessions close by the broker's clock (30 minutes unused)", () => {
  const ping = (token: string, sessionId: string) =>
    send({ token, sessionId, body: { jsonrpc: "2.0", id: 11, method: "ping" } });

  it("a session unused past the limit is closed when the next opens; one in use stays", async () => {
    const first = await broker.devToken(ALICE, { agent: "orchestrator" });
    const idle = await openSession(first);
    const busy = await openSession(first);
    broker.clock.advance(20 * 60);
    expect((await ping(first, busy)).status, "used at 20 minutes").toBe(200);
    broker.clock.advance(20 * 60);
    // 40 minutes after `idle` was last used, 20 after `busy`: a new session sweeps.
    const fresh = await broker.devToken(ALICE, { agent: "orchestrator" });
    await openSession(fresh);
    await expectRefused({ token: fresh, sessionId: idle, body: REQUEST_TOKEN }, 404);
    expect((await ping(fresh, busy)).status, "the session in use stays open").toBe(200);
  });
});
