/**
 * The MCP tools as a model sees them (design §3.5, issue 3 deliverables 3 and 4), over the SDK
 * client in a Streamable HTTP session: their metadata and schemas, strict and bounded inputs
 * (identity never comes from tool arguments), and refusals a model can act on, which never
 * carry a token, the bearer token or a stack.
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS } from "../../src/mcp/tools/index.js";
import { issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const ALICE = "alice@example.com";
const JWT_LIKE = /eyJ[\w-]+\.[\w-]+\.[\w-]*/;
const STACK_LIKE = /\n\s+at\s|\bat\s\S+\s\(?\S+:\d+:\d+\)?/;
/** RFC 6749 §5.2 charset of error_description. */
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;

interface Outcome {
  readonly isError: boolean;
  readonly structured: Record<string, any> | undefined;
  readonly text: string;
  /** Everything the client received, serialised: what a model would see. */
  readonly raw: string;
}

let broker: TestBroker;
/** The bearer token of the orchestrator's session: it must never come back in a result. */
let bearer: string;
let orchestrator: Client;
let booker: Client;

/** An SDK client in its own HTTP session, authenticated by `token`. */
async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "tools-test", version: "0.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${broker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Outcome> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text?: string }[];
  return {
    isError: result.isError === true,
    structured: result.structuredContent as Record<string, any> | undefined,
    text: content.map((c) => c.text ?? "").join("\n"),
    raw: JSON.stringify(result),
  };
}

/**
 * Calls a tool that must be refused before anything runs: the refusal every strict-input check
 * gives (`invalid_request`, one fixed description, a hint naming the tool's own fields), and
 * nothing issued or audited.
 */
async function expectInputRefused(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<Outcome> {
  const issued = issuedCount(broker);
  const events = broker.events.length;
  const outcome = await call(client, name, args);
  expect(outcome.isError, outcome.text).toBe(true);
  expect(outcome.structured).toEqual({
    error: "invalid_request",
    error_description:
      "Input validation error: the arguments do not match the input schema of the tool",
    hint: expect.stringContaining(name),
  });
  expect(outcome.text).toContain(outcome.structured?.hint);
  expect(outcome.raw).not.toMatch(JWT_LIKE);
  expect(outcome.raw).not.toMatch(STACK_LIKE);
  expect(issuedCount(broker), "no token may be issued").toBe(issued);
  expect(broker.events.slice(events), "the tool may not run").toEqual([]);
  return outcome;
}

beforeAll(async () => {
  broker = await startTestBroker();
  bearer = await broker.devToken(ALICE, { agent: "orchestrator" });
  orchestrator = await connect(bearer);
  booker = await connect(await broker.devToken(ALICE, { agent: "flight-booker" }));
});
afterAll(async () => {
  await orchestrator?.close();
  await booker?.close();
  await broker.close();
});

describe("tools/list: what a model is told about each tool", () => {
  it("lists the tools of src/mcp/tools, in order", async () => {
    const { tools } = await orchestrator.listTools();
    expect(tools.map((t) => t.name)).toEqual(TOOLS.map((t) => t.name));
    expect(tools.map((t) => t.name)).toEqual([
      "list_apis",
      "whoami",
      "request_token",
      "delegate",
      "start_task",
      "end_task",
      "revoke_token",
      "approval_status",
    ]);
    expect(tools.map((t) => t.name).sort()).toEqual([
      "approval_status",
      "delegate",
      "end_task",
      "list_apis",
      "request_token",
      "revoke_token",
      "start_task",
      "whoami",
    ]);
  });

  it.each(TOOLS.map((t) => [t.name, t] as const))(
    "%s: title, description, annotations, a strict input schema, an output schema",
    async (name, tool) => {
      const { tools } = await orchestrator.listTools();
      const listed = tools.find((t) => t.name === name);
      expect(listed?.title).toBe(tool.title);
      expect(listed?.description).toBe(tool.description);
      expect(listed?.description?.length ?? 0).toBeGreaterThan(100);
      expect(listed?.annotations).toEqual({ title: tool.title, ...tool.annotations });
      for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"]) {
        expect(listed?.annotations?.[hint as "readOnlyHint"], hint).toBeTypeOf("boolean");
      }
      expect(listed?.inputSchema.type).toBe("object");
      // Design §3.5: inputs are strict, so a made-up `agent` or `user` is an error.
      expect(listed?.inputSchema.additionalProperties).toBe(false);
      expect(listed?.outputSchema?.type).toBe("object");
      // The output schema lists the result's members, all optional and not closed: a refusal's
      // {error, error_description, hint} validates without being described again in each tool.
      const outputs = Object.keys(listed?.outputSchema?.properties ?? {});
      expect(outputs).toEqual(Object.keys(tool.outputSchema.shape));
      expect(listed?.outputSchema?.required).toBeUndefined();
      expect(listed?.outputSchema?.additionalProperties).not.toBe(false);
    },
  );

  it("the annotations say which tools only read and which destroy", async () => {
    const { tools } = await orchestrator.listTools();
    const hints = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    expect(hints.list_apis).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    expect(hints.whoami).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    expect(hints.request_token).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(hints.delegate).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(hints.revoke_token).toMatchObject({ destructiveHint: true, idempotentHint: true });
  });

  it("no tool takes an identity field", async () => {
    const { tools } = await orchestrator.listTools();
    for (const tool of tools) {
      const fields = Object.keys(tool.inputSchema.properties ?? {});
      for (const identity of ["agent", "client_id", "subject", "user", "sub", "act"]) {
        expect(fields, tool.name).not.toContain(identity);
      }
    }
  });
});

describe("identity never comes from tool arguments", () => {
  const VALID: Record<string, Record<string, unknown>> = {
    request_token: { api: "calendar", scopes: ["calendar.read"] },
    delegate: { to_agent: "flight-booker", scopes: ["flights.search"] },
    whoami: {},
  };
  const IDENTITY: Record<string, unknown> = {
    agent: "flight-booker",
    client_id: "flight-booker",
    subject: "bob@example.com",
    user: "bob@example.com",
    sub: "bob@example.com",
    act: { sub: "flight-booker" },
  };

  it("the valid arguments alone succeed (the control)", async () => {
    for (const [name, args] of Object.entries(VALID)) {
      const outcome = await call(orchestrator, name, args);
      expect(outcome.isError, `${name}: ${outcome.text}`).toBe(false);
    }
  });

  it.each(
    Object.keys(VALID).flatMap((tool) => Object.keys(IDENTITY).map((field) => [tool, field])),
  )("%s with `%s`: an input validation error, nothing issued", async (tool, field) => {
    const outcome = await expectInputRefused(orchestrator, tool as string, {
      ...VALID[tool as string],
      [field as string]: IDENTITY[field as string],
    });
    // The hint names what the tool takes, and where identity comes from.
    const fields = Object.keys(TOOLS.find((t) => t.name === tool)?.inputSchema.shape ?? {});
    expect(outcome.structured?.hint).toContain(`${tool} takes only ${fields.join(", ")}`);
    expect(outcome.structured?.hint).toMatch(/comes from your session/);
  });

  it("an unknown key is never echoed, even one that holds a token", async () => {
    const token = (
      await call(orchestrator, "request_token", { api: "calendar", scopes: ["calendar.read"] })
    ).structured?.access_token as string;
    expect(token).toMatch(JWT_LIKE);
    for (const key of ["made_up_field_7f3a", token]) {
      const outcome = await expectInputRefused(orchestrator, "request_token", {
        ...VALID.request_token,
        [key]: "x",
      });
      expect(outcome.raw).not.toContain(key);
    }
  });
});

/**
 * Issue 14 item 7: JSON.parse makes `__proto__` an own key, but the SDK reads the arguments
 * through a zod record, which drops it, and the call used to go on. Built with JSON.parse so
 * that the SDK client's JSON.stringify sends the key (an object literal would set a prototype).
 */
describe("inputs are strict for every key, `__proto__` included", () => {
  const withKey = (tool: string, key: string) => {
    const base = JSON.stringify(VALID_ARGS[tool]).slice(0, -1);
    const args = JSON.parse(`${base}${base === "{" ? "" : ","}"${key}":{"x":1}}`);
    expect(Object.keys(args)).toContain(key);
    return args as Record<string, unknown>;
  };
  const VALID_ARGS: Record<string, Record<string, unknown>> = {
    request_token: { api: "calendar", scopes: ["calendar.read"] },
    delegate: { to_agent: "flight-booker", scopes: ["flights.search"] },
    whoami: {},
    list_apis: {},
  };

  it.each(
    Object.keys(VALID_ARGS).flatMap((tool) =>
      ["__proto__", "constructor", "prototype"].map((key) => [tool, key]),
    ),
  )("%s with an own `%s` key: refused like any unknown key, nothing issued", async (tool, key) => {
    const outcome = await expectInputRefused(
      orchestrator,
      tool as string,
      withKey(tool as string, key as string),
    );
    expect(outcome.structured?.hint).toMatch(/takes (only|no arguments)/);
  });

  it("the same arguments without the key succeed (the control)", async () => {
    for (const [tool, args] of Object.entries(VALID_ARGS)) {
      const outcome = await call(orchestrator, tool, JSON.parse(JSON.stringify(args)));
      expect(outcome.isError, `${tool}: ${outcome.text}`).toBe(false);
    }
  });
});

describe("inputs are bounded", () => {
  const long = (n: number) => "x".repeat(n);
  it.each([
    ["a 10 KB api", "request_token", { api: long(10 * 1024), scopes: ["calendar.read"] }],
    [
      "100 scopes",
      "request_token",
      { api: "calendar", scopes: Array.from({ length: 100 }, () => "calendar.read") },
    ],
    ["a 129-char scope", "request_token", { api: "calendar", scopes: [long(129)] }],
    ["no scope at all", "request_token", { api: "calendar", scopes: [] }],
    [
      "a 600-char reason",
      "request_token",
      { api: "calendar", scopes: ["calendar.read"], reason: long(600) },
    ],
    [
      "a 9000-char subject_token",
      "request_token",
      { api: "calendar", scopes: ["calendar.read"], subject_token: long(9000) },
    ],
    ["a 100-char to_agent", "delegate", { to_agent: long(100), scopes: ["flights.search"] }],
    [
      "a 600-char delegation reason",
      "delegate",
      { to_agent: "flight-booker", scopes: ["flights.search"], reason: long(600) },
    ],
    [
      "a ttl of two days",
      "request_token",
      { api: "calendar", scopes: ["calendar.read"], ttl_seconds: 172_800 },
    ],
    ["a 9000-char token to revoke", "revoke_token", { token: long(9000) }],
  ])("%s is refused before the tool runs", async (_, tool, args) => {
    await expectInputRefused(orchestrator, tool, args);
  });
});

describe("refusals a model can act on", () => {
  interface Case {
    readonly name: string;
    readonly client: () => Client;
    readonly tool: string;
    /** The arguments, or a function that obtains them (a real token to misuse). */
    readonly args: Record<string, unknown> | (() => Promise<Record<string, unknown>>);
    readonly error: string;
    /** What the hint must name for the model to act on it. */
    readonly hint: RegExp[];
  }

  const cases: Case[] = [
    {
      name: "a scope the agent may not hold",
      client: () => booker,
      tool: "request_token",
      args: { api: "docs", scopes: ["docs.write"] },
      error: "invalid_scope",
      hint: [/docs\.read/],
    },
    {
      name: "a scope of another API",
      client: () => orchestrator,
      tool: "request_token",
      args: { api: "docs", scopes: ["calendar.read"] },
      error: "invalid_scope",
      hint: [/docs\.read/, /docs\.write/],
    },
    {
      name: "an unknown API",
      client: () => orchestrator,
      tool: "request_token",
      args: { api: "payroll", scopes: ["calendar.read"] },
      error: "invalid_target",
      hint: [/calendar/, /flights/, /docs/],
    },
    {
      name: "an unknown resource URI",
      client: () => orchestrator,
      tool: "request_token",
      args: { api: "https://payroll.example.com", scopes: ["calendar.read"] },
      error: "invalid_target",
      hint: [/calendar/, /flights/, /docs/],
    },
    {
      name: "a delegation off the policy's edges",
      client: () => orchestrator,
      tool: "delegate",
      args: { to_agent: "impersonator", scopes: ["docs.read"] },
      error: "invalid_target",
      hint: [/flight-booker/, /researcher/],
    },
    {
      name: "a delegation to an agent that does not exist",
      client: () => orchestrator,
      tool: "delegate",
      args: { to_agent: "ghost", scopes: ["docs.read"] },
      error: "invalid_target",
      hint: [/flight-booker/, /researcher/],
    },
    {
      name: "a subject_token that is not a token",
      client: () => orchestrator,
      tool: "request_token",
      args: { api: "calendar", scopes: ["calendar.read"], subject_token: "garbage" },
      error: "invalid_request",
      hint: [/delegation token/],
    },
    {
      name: "a subject_token that is an access token (a real JWT, never echoed)",
      client: () => orchestrator,
      tool: "request_token",
      args: async () => {
        const ok = await call(orchestrator, "request_token", {
          api: "calendar",
          scopes: ["calendar.read"],
        });
        expect(ok.isError, ok.text).toBe(false);
        return {
          api: "calendar",
          scopes: ["calendar.read"],
          subject_token: ok.structured?.access_token,
        };
      },
      error: "invalid_request",
      hint: [/delegation token/],
    },
    {
      name: "a delegation token meant for another agent",
      client: () => orchestrator,
      tool: "request_token",
      args: async () => {
        const ok = await call(orchestrator, "delegate", {
          to_agent: "flight-booker",
          scopes: ["flights.search"],
        });
        expect(ok.isError, ok.text).toBe(false);
        return {
          api: "flights",
          scopes: ["flights.search"],
          subject_token: ok.structured?.delegation_token,
        };
      },
      error: "invalid_request",
      hint: [/delegation token/],
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const args = typeof c.args === "function" ? await c.args() : c.args;
    const issued = issuedCount(broker);
    const outcome = await call(c.client(), c.tool, args);

    expect(outcome.isError, outcome.text).toBe(true);
    expect(outcome.structured, outcome.text).toBeDefined();
    const refusal = outcome.structured as Record<string, string>;
    expect(Object.keys(refusal).sort()).toEqual(["error", "error_description", "hint"]);
    expect(refusal.error).toBe(c.error);
    expect(refusal.error_description).toMatch(DESCRIPTION);
    for (const wanted of c.hint) expect(refusal.hint).toMatch(wanted);
    // The text says the same, for clients that read only text.
    expect(outcome.text).toContain(refusal.error);
    expect(outcome.text).toContain(refusal.error_description);
    expect(outcome.text).toContain(refusal.hint);
    // Never a token, the session's bearer token, the input's token, or a stack.
    expect(outcome.raw).not.toMatch(JWT_LIKE);
    expect(outcome.raw).not.toContain(bearer);
    if (typeof args.subject_token === "string") {
      expect(outcome.raw).not.toContain(args.subject_token);
    }
    expect(outcome.raw).not.toMatch(STACK_LIKE);
    expect(issuedCount(broker), "no token may be issued").toBe(issued);
  });
});

describe("an elevated scope waits for a human (rule 6)", () => {
  it("request_token: a non-error approval_required result, no token, an approval.requested event", async () => {
    const issued = issuedCount(broker);
    const mark = broker.events.length;
    const outcome = await call(orchestrator, "request_token", {
      api: "calendar",
      scopes: ["calendar.write"],
    });

    // This client cannot be asked (no elicitation): the agent is told where a human decides.
    expect(outcome.isError, outcome.text).toBe(false);
    const result = outcome.structured as Record<string, unknown>;
    expect(result.approval_id).toBeTypeOf("string");
    expect(result.approval_id).toMatch(/^apr_/);
    expect(result).toEqual({
      status: "approval_required",
      approval_id: result.approval_id,
      approve_url: `${broker.issuer}/approvals/${result.approval_id}`,
      expires_in: broker.policy.broker.approvalTtl,
      hint: expect.stringContaining("Poll approval_status"),
    });
    expect(outcome.text).toContain("approval_required");
    expect(outcome.text).toContain(result.approval_id as string);
    // Never a token, the session's bearer token, or a stack.
    expect(outcome.raw).not.toMatch(JWT_LIKE);
    expect(outcome.raw).not.toContain(bearer);
    expect(outcome.raw).not.toMatch(STACK_LIKE);
    expect(issuedCount(broker), "no token may be issued").toBe(issued);
    expect(broker.events.slice(mark).filter((e) => e.type === "approval.requested")).toEqual([
      expect.objectContaining({
        approval: result.approval_id,
        agent: "orchestrator",
        subject: ALICE,
        target: "calendar",
        scopes: ["calendar.write"],
      }),
    ]);
  });
});

describe("revoke_token", () => {
  it("revoking garbage is not an error (RFC 7009 §2.2), but nothing was revoked: {revoked: false} and a hint", async () => {
    const outcome = await call(orchestrator, "revoke_token", { token: "garbage" });
    expect(outcome.isError, outcome.text).toBe(false);
    expect(outcome.structured).toEqual({
      revoked: false,
      hint: expect.stringMatching(/^Nothing to revoke: this is not a live token Baton issued/),
    });
    expect(outcome.structured?.hint).toMatch(/request_token or delegate/);
    expect(outcome.raw).not.toContain("garbage");
  });

  it("revoking a token it obtained makes it inactive", async () => {
    const ok = await call(orchestrator, "request_token", {
      api: "docs",
      scopes: ["docs.read"],
    });
    const token = ok.structured?.access_token as string;
    const revoked = await call(orchestrator, "revoke_token", { token });
    expect(revoked.structured).toEqual({ revoked: true });
    expect(revoked.raw).not.toMatch(JWT_LIKE);
    const res = await broker.post("/introspect", { token }, "orchestrator");
    expect(await res.json()).toEqual({ active: false });
  });
});
