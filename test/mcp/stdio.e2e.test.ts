/**
 * Issue 3, "done when" (stdio): the SDK `Client` spawns `baton mcp` for real (node runs
 * bin/baton.js on the fresh build) and drives it over stdio.
 *
 * - Embedded: `baton mcp --agent orchestrator --dev-user alice` lists its tools, gets a token
 *   and delegates to flight-booker; a SECOND process, `baton mcp --agent flight-booker` with the
 *   delegation token as BATON_SUBJECT_TOKEN and the same SQLite store, redeems it: nested `act`,
 *   scope within both parents', `exp` no later than the delegation token's.
 * - stdout carries nothing but MCP (JSON-RPC lines), even with the audit log on stderr.
 * - With `--broker URL`, as a client of a running `baton serve`, the same tool calls give the
 *   same structured results as embedded (token strings, jti and times aside).
 *
 * Every child is killed by pid in afterAll; stores and audit logs live in mkdtemp dirs.
 */

import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, TOKEN_TYPE } from "../helpers/broker.js";
import {
  Children,
  runBaton,
  spawnBaton,
  storeFlags,
  TEST_POLICIES,
} from "../helpers/cli-process.js";
import {
  ALICE,
  callOk,
  callRefused,
  callTool,
  connectStdio,
  DEMO_SECRETS,
  decode,
  expectTools,
  type StdioSession,
  TOOL_NAMES,
  without,
} from "../helpers/mcp.js";

/** Spawning a node process takes a second or so. */
const SPAWN_TIMEOUT = 60_000;

const children = new Children();
afterAll(() => children.cleanup());

/** `--store`, `--audit` (and the demo `--policies`) pointing into `dir`. */

const scopeSet = (scope: unknown) => new Set(String(scope).split(" ").filter(Boolean));

/**
 * The conversation both modes hold, with what differs by nature (token strings, times) set
 * aside: the results must be identical between embedded and --broker.
 */
interface Conversation {
  readonly results: Record<string, unknown>;
  readonly accessToken: string;
  readonly delegationToken: string;
  /** The approval the elevated request opened (rule 6): each mode opens its own. */
  readonly elevatedApprovalId: string;
}

/** The demo policies' approval lifetime (`broker.approval_ttl`, the default 10 minutes). */
const APPROVAL_TTL = 600;

/** `issuer` is the broker the client talks to: the approval page is there. */
async function converse(
  client: Client,
  issuer: string,
  /** Whether a broker serves the approval page: not for the embedded server (design §3.5). */
  page: boolean,
): Promise<Conversation> {
  const whoami = await callOk(client, "whoami");
  const listApis = await callOk(client, "list_apis");
  const token = await callOk(client, "request_token", {
    api: "calendar",
    scopes: ["calendar.read"],
    reason: "find a free afternoon",
  });
  const delegation = await callOk(client, "delegate", {
    to_agent: "flight-booker",
    scopes: ["flights.search"],
    ttl_seconds: 600,
  });
  // Rule 6: calendar.write waits for a human; this client cannot be asked, so it is told.
  const elevated = await callTool(client, "request_token", {
    api: "calendar",
    scopes: ["calendar.write"],
  });
  expect(elevated.isError, elevated.text).toBe(false);
  expect(JSON.stringify(elevated)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  const approvalId = elevated.out.approval_id as string;
  expect(approvalId).toMatch(/^apr_/);
  expect(elevated.out).toEqual({
    status: "approval_required",
    approval_id: approvalId,
    ...(page ? { approve_url: `${issuer}/approvals/${approvalId}` } : {}),
    // A real clock: a second may pass between opening the approval and reading it back.
    expires_in: expect.any(Number),
    hint: expect.any(String),
  });
  // Where a human decides: the page a broker serves, else the operator's command.
  expect(elevated.out.hint).toContain(
    page ? "approve_url" : `baton approvals approve ${approvalId}`,
  );
  expect(elevated.out.expires_in).toBeGreaterThan(APPROVAL_TTL - 5);
  expect(elevated.out.expires_in).toBeLessThanOrEqual(APPROVAL_TTL);
  const unknownApi = await callRefused(
    client,
    "request_token",
    { api: "payroll", scopes: ["calendar.read"] },
    "invalid_target",
  );
  const offEdge = await callRefused(
    client,
    "delegate",
    { to_agent: "orchestrator", scopes: ["flights.search"] },
    "invalid_target",
  );
  return {
    results: {
      whoami: without(whoami, ["expires_at"]),
      listApis,
      token: without(token, ["access_token"]),
      // Per token: ids and times, and the lineage, whose root is this conversation's user token.
      tokenClaims: without(decode(token.access_token), ["iss", "jti", "iat", "exp", "lineage"]),
      delegation: without(delegation, ["delegation_token"]),
      delegationClaims: without(decode(delegation.delegation_token), [
        "iss",
        "aud",
        "jti",
        "iat",
        "exp",
        "lineage",
      ]),
      lineages: [token.access_token, delegation.delegation_token].map(
        (t) => (decode(t).lineage as string[]).length,
      ),
      elevated: without(elevated.out, ["approval_id", "approve_url", "expires_in", "hint"]),
      unknownApi,
      offEdge,
    },
    accessToken: token.access_token,
    delegationToken: delegation.delegation_token,
    elevatedApprovalId: approvalId,
  };
}

/** The `approval.requested` events of an audit log (JSON lines). */
function approvalsRequested(audit: string): Record<string, unknown>[] {
  return audit
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((e) => e.type === "approval.requested");
}

/** What the elevated request of `converse` must have written to the audit log. */
function expectApprovalRequested(audit: string, conversation: Conversation): void {
  expect(approvalsRequested(audit)).toEqual([
    expect.objectContaining({
      approval: conversation.elevatedApprovalId,
      agent: "orchestrator",
      subject: ALICE,
      chain: ["orchestrator"],
      target: "calendar",
      scopes: ["calendar.write"],
    }),
  ]);
}

/** The sub-agent's side, in its own process, on the delegation token. */
async function subAgentConverse(client: Client) {
  const whoami = await callOk(client, "whoami");
  const token = await callOk(client, "request_token", {
    api: "flights",
    scopes: ["flights.search"],
    ttl_seconds: 3600,
  });
  return { whoami, token };
}

/** Checks of the sub-agent's results, the same in both modes. */
function expectNestedChain(
  sub: Awaited<ReturnType<typeof subAgentConverse>>,
  parent: Conversation,
  sessionScopes: ReadonlySet<string>,
) {
  expect(sub.whoami).toMatchObject({
    subject: ALICE,
    agent: "flight-booker",
    chain: ["flight-booker", "orchestrator"],
    // Its session token is the delegation: whoami shows what it carries (issue 16).
    delegation: { from: "orchestrator", scopes: ["flights.search"] },
    apis: [expect.objectContaining({ id: "flights", scopes: ["flights.search"] })],
  });
  const delegation = decode(parent.delegationToken);
  expect(sub.whoami.expires_at).toBe(new Date((delegation.exp as number) * 1000).toISOString());

  expect(sub.token).toMatchObject({
    token_type: "Bearer",
    issued_token_type: TOKEN_TYPE.accessToken,
    scope: "flights.search",
    audience: "flights",
  });
  const claims = decode(sub.token.access_token);
  expect(claims).toMatchObject({
    sub: ALICE,
    aud: "https://flights.example.com",
    client_id: "flight-booker",
    act: { sub: "flight-booker", act: { sub: "orchestrator" } },
  });
  expect(claims.may_act).toBeUndefined();
  const granted = scopeSet(claims.scope);
  expect(granted.size).toBeGreaterThan(0);
  for (const s of granted) {
    expect(scopeSet(delegation.scope).has(s), `${s} in the delegation token`).toBe(true);
    expect(sessionScopes.has(s), `${s} within the orchestrator's authority`).toBe(true);
  }
  // Asked for an hour: the delegation token ends sooner, so does this one (rule 2).
  expect(claims.exp as number).toBeLessThanOrEqual(delegation.exp as number);
  expect(sub.token.expires_in).toBe((claims.exp as number) - (claims.iat as number));
  expect(sub.token.expires_in).toBeLessThanOrEqual(600);
}

/** The scopes the orchestrator may ask for, from its own list_apis. */
function orchestratorScopes(conversation: Conversation): Set<string> {
  const { apis } = conversation.results.listApis as { apis: { scopes: string[] }[] };
  return new Set(apis.flatMap((a) => a.scopes));
}

let embedded: Conversation;
let embeddedSub: Awaited<ReturnType<typeof subAgentConverse>>;

describe("baton mcp, embedded: its own keys, store and policies", () => {
  let dir: string;
  let orchestrator: StdioSession;

  beforeAll(async () => {
    dir = await children.tempDir();
    orchestrator = await connectStdio(children, [
      "--agent",
      "orchestrator",
      "--dev-user",
      ALICE,
      ...storeFlags(dir),
    ]);
  }, SPAWN_TIMEOUT);
  afterAll(() => orchestrator?.close());

  it("lists the tools with titles, annotations and schemas", async () => {
    await expectTools(orchestrator.client);
  });

  it("whoami, list_apis, request_token, delegate and refusals, for alice", async () => {
    embedded = await converse(orchestrator.client, "http://127.0.0.1:8787", false);
    const r = embedded.results as Record<string, any>;
    expect(r.whoami).toEqual({
      subject: ALICE,
      agent: "orchestrator",
      chain: ["orchestrator"],
      apis: [
        expect.objectContaining({
          id: "calendar",
          scopes: ["calendar.read", "calendar.write"],
          elevated: ["calendar.write"],
          max_ttl_seconds: 600,
          default_ttl_seconds: 300,
          default_scopes: ["calendar.read"],
        }),
        expect.objectContaining({
          id: "flights",
          scopes: ["flights.search", "flights.book"],
          elevated: ["flights.book"],
          max_ttl_seconds: 900,
        }),
      ],
      // The demo's book-trip template, as this session would open it (issue 16).
      templates: [
        expect.objectContaining({
          id: "book-trip",
          ceiling: ["flights.search", "flights.book", "calendar.read"],
          max_ttl_seconds: 1800,
          max_tokens: 50,
          approval: true,
        }),
      ],
      delegate_to: [
        expect.objectContaining({
          agent: "flight-booker",
          scopes: ["flights.search", "flights.book"],
        }),
      ],
      defaults: { token_ttl_seconds: 300, task_ttl_seconds: 3600, task_max_tokens: 1000 },
      // The demo policy's content hash (issue 9): a stable 16-hex version.
      policy_version: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(r.listApis.apis.map((a: { id: string }) => a.id)).toEqual(["calendar", "flights"]);
    expect(r.listApis.apis[0]).toMatchObject({
      id: "calendar",
      resource: "https://calendar.example.com",
      max_ttl_seconds: 600,
    });
    expect(r.token).toEqual({
      token_type: "Bearer",
      expires_in: 300,
      scope: "calendar.read",
      audience: "calendar",
      issued_token_type: TOKEN_TYPE.accessToken,
    });
    expect(decode(embedded.accessToken)).toMatchObject({
      iss: "http://127.0.0.1:8787",
      sub: ALICE,
      aud: "https://calendar.example.com",
      client_id: "orchestrator",
      scope: "calendar.read",
      act: { sub: "orchestrator" },
    });
    expect(r.delegation).toEqual({
      to_agent: "flight-booker",
      scope: "flights.search",
      expires_in: 600,
      handover: expect.stringContaining("BATON_SUBJECT_TOKEN"),
    });
    expect(r.delegationClaims).toMatchObject({
      sub: ALICE,
      act: { sub: "orchestrator" },
      may_act: { sub: "flight-booker" },
      scope: "flights.search",
    });
    expect(r.elevated).toEqual({ status: "approval_required" });
    expect(r.unknownApi.hint).toMatch(/calendar, flights/);
    expect(r.offEdge.hint).toMatch(/flight-booker/);
  });

  it(
    "a second process for flight-booker redeems the delegation token: act nested, scope and exp narrowed",
    async () => {
      const booker = await connectStdio(
        children,
        ["--agent", "flight-booker", ...storeFlags(dir)],
        {
          BATON_SUBJECT_TOKEN: embedded.delegationToken,
        },
      );
      try {
        embeddedSub = await subAgentConverse(booker.client);
      } finally {
        await booker.close();
      }
      expectNestedChain(embeddedSub, embedded, orchestratorScopes(embedded));

      // Both processes wrote to the one audit log; by jti, never a token.
      const audit = await readFile(join(dir, "audit.jsonl"), "utf8");
      const issued = audit
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((e) => e.type === "exchange.issued");
      expect(issued.map((e) => e.agent)).toEqual(
        expect.arrayContaining(["orchestrator", "flight-booker"]),
      );
      // The elevated request opened one approval, and issued nothing for calendar.write.
      expectApprovalRequested(audit, embedded);
      expect(issued.map((e) => e.scopes)).not.toContainEqual(["calendar.write"]);
      expect(audit).not.toMatch(/eyJ[\w-]+\.eyJ/);
    },
    SPAWN_TIMEOUT,
  );
});

describe("baton mcp: stdout is the MCP channel and nothing else", () => {
  it(
    "answers JSON-RPC lines only, with the audit log sent to stderr",
    async () => {
      const dir = await children.tempDir();
      const child = spawnBaton(children, [
        "mcp",
        "--agent",
        "orchestrator",
        "--dev-user",
        ALICE,
        "--policies",
        TEST_POLICIES,
        "--store",
        `sqlite://${dir}/b.db`,
        "--audit",
        "stderr",
      ]);
      const stdoutLines: string[] = [];
      let stderr = "";
      child.stderr?.on("data", (c) => {
        stderr += c;
      });
      const responses = new Map<number, Record<string, any>>();
      const waiters = new Map<number, () => void>();
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        stdoutLines.push(line);
        try {
          const message = JSON.parse(line) as Record<string, any>;
          if (typeof message.id === "number") {
            responses.set(message.id, message);
            waiters.get(message.id)?.();
          }
        } catch {
          // Not JSON: the assertion below reports it.
        }
      });
      const exited = once(child, "exit");
      const send = (message: Record<string, unknown>) =>
        child.stdin?.write(`${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`);
      const request = (id: number, method: string, params: Record<string, unknown>) => {
        const answered = new Promise<void>((resolve) => {
          if (responses.has(id)) resolve();
          else waiters.set(id, resolve);
        });
        send({ id, method, params });
        return Promise.race([
          answered,
          exited.then(() => {
            throw new Error(`baton mcp exited before answering ${method}: ${stderr}`);
          }),
        ]);
      };

      await request(1, "initialize", {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "raw-test", version: "0.0.0" },
      });
      send({ method: "notifications/initialized" });
      await request(2, "tools/list", {});
      await request(3, "tools/call", {
        name: "request_token",
        arguments: { api: "calendar", scopes: ["calendar.read"] },
      });
      await request(4, "tools/call", {
        name: "request_token",
        arguments: { api: "calendar", scopes: ["calendar.write"] },
      });
      child.stdin?.end();
      const [code] = await exited;

      expect(code, stderr).toBe(0);
      expect(stdoutLines.length).toBeGreaterThanOrEqual(4);
      for (const line of stdoutLines) {
        const message = JSON.parse(line) as Record<string, unknown>;
        expect(message.jsonrpc, line).toBe("2.0");
        expect("result" in message || "error" in message || "method" in message, line).toBe(true);
      }
      expect(responses.get(1)?.result.serverInfo.name).toBe("baton");
      expect(responses.get(2)?.result.tools).toHaveLength(TOOL_NAMES.length);
      expect(responses.get(3)?.result.isError).not.toBe(true);
      // Rule 6: calendar.write waits for a human: not an error, and no token in the answer.
      expect(responses.get(4)?.result.isError).not.toBe(true);
      expect(responses.get(4)?.result.structuredContent).toMatchObject({
        status: "approval_required",
        approval_id: expect.stringMatching(/^apr_/),
      });
      expect(JSON.stringify(responses.get(4))).not.toMatch(/eyJ[\w-]+\.eyJ/);
      expect(stderr).toContain('"type":"approval.requested"');
      // The audit events went to stderr, not to the MCP channel.
      expect(stderr).toContain('"type":"exchange.issued"');
      expect(stderr).toContain('"type":"exchange.denied"');
      expect(stdoutLines.join("\n")).not.toContain('"type":"exchange.issued"');
    },
    SPAWN_TIMEOUT,
  );
});

describe("baton mcp --broker: a client of a running baton serve", () => {
  let dir: string;
  let url: string;
  let subjectToken: string;

  beforeAll(async () => {
    dir = await children.tempDir();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const server = spawnBaton(children, [
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...storeFlags(dir),
    ]);
    await serving(server, url);
    const printed = await runBaton(children, [
      "dev-token",
      "--user",
      ALICE,
      "--agent",
      "orchestrator",
      ...storeFlags(dir),
      "--issuer",
      url,
    ]);
    subjectToken = printed.trim();
  }, SPAWN_TIMEOUT);

  it(
    "gives the same structured results as the embedded mode",
    async () => {
      expect(embedded, "the embedded conversation ran first").toBeDefined();
      const orchestrator = await connectStdio(
        children,
        ["--agent", "orchestrator", "--broker", url],
        {
          BATON_CLIENT_SECRET: DEMO_SECRETS.orchestrator as string,
          BATON_SUBJECT_TOKEN: subjectToken,
        },
      );
      let remote: Conversation;
      try {
        await expectTools(orchestrator.client);
        remote = await converse(orchestrator.client, url, true);
      } finally {
        await orchestrator.close();
      }
      // The same results, refusals included, but for the hints: a remote broker's HTTP body
      // carries no rule and no facts (design §3.6), so its hints say what the code alone can.
      expect(without(remote.results, ["hint"])).toEqual(without(embedded.results, ["hint"]));
      expect(JSON.stringify(remote.results)).not.toContain("You may delegate only to");
      expect(JSON.stringify(embedded.results)).toContain("You may delegate only to");
      expect(remote.elevatedApprovalId).not.toBe(embedded.elevatedApprovalId);
      // The tokens come from the served broker, not from this process.
      expect(decode(remote.accessToken).iss).toBe(url);
      expect(decode(remote.delegationToken)).toMatchObject({ iss: url, aud: url });

      const booker = await connectStdio(children, ["--agent", "flight-booker", "--broker", url], {
        BATON_CLIENT_SECRET: DEMO_SECRETS["flight-booker"] as string,
        BATON_SUBJECT_TOKEN: remote.delegationToken,
      });
      let remoteSub: Awaited<ReturnType<typeof subAgentConverse>>;
      try {
        remoteSub = await subAgentConverse(booker.client);
      } finally {
        await booker.close();
      }
      expectNestedChain(remoteSub, remote, orchestratorScopes(remote));
      // max_ttl_seconds is a time here too: what is left of the delegation, read a second
      // apart under load. Both must be the same to within that second.
      expect(without(remoteSub.whoami, ["expires_at", "max_ttl_seconds"])).toEqual(
        without(embeddedSub.whoami, ["expires_at", "max_ttl_seconds"]),
      );
      const maxTtl = (whoami: unknown) =>
        (whoami as { apis: { max_ttl_seconds: number }[] }).apis[0]?.max_ttl_seconds ?? 0;
      expect(Math.abs(maxTtl(remoteSub.whoami) - maxTtl(embeddedSub.whoami))).toBeLessThanOrEqual(
        2,
      );
      // expires_in is a time here: the delegation token's remaining life when it was redeemed.
      expect(without(remoteSub.token, ["access_token", "expires_in"])).toEqual(
        without(embeddedSub.token, ["access_token", "expires_in"]),
      );
      // Per token: its ids, times and lineage, which ends with the delegation token it came from.
      const perToken = ["iss", "jti", "iat", "exp", "lineage"];
      expect(without(decode(remoteSub.token.access_token), perToken)).toEqual(
        without(decode(embeddedSub.token.access_token), perToken),
      );
      expect(decode(remoteSub.token.access_token).lineage).toEqual([
        ...(decode(remote.delegationToken).lineage as string[]),
        decode(remote.delegationToken).jti,
      ]);
      // The served broker opened the remote conversation's approval, in its own audit log.
      expectApprovalRequested(await readFile(join(dir, "audit.jsonl"), "utf8"), remote);
    },
    SPAWN_TIMEOUT,
  );
});

/** Resolves once `baton serve` has printed its banner (it is listening then). */
async function serving(server: ReturnType<typeof spawnBaton>, url: string): Promise<void> {
  let stdout = "";
  let stderr = "";
  server.stderr?.on("data", (c) => {
    stderr += c;
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout?.on("data", (c) => {
      stdout += c;
      if (stdout.includes(`Baton is serving on ${url}`)) resolve();
    });
    server.once("exit", (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
  });
}
