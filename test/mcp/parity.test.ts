/**
 * Issue 3 item 5, design §5 ("one path, two doors"): the same request sent through `POST /token`
 * and through the MCP tool over Streamable HTTP reaches the same decision, grants the same
 * token (all claims but `jti`: the clock is fixed, so `iat` and `exp` match too) and writes the
 * same audit event (all but `jti` / `parent_jti`).
 *
 * Each door authenticates the same agent its own way: client_secret_basic at `/token`, the
 * bearer token at `/mcp`. The user token is the same on both sides: the `subject_token` of the
 * form is the bearer of the MCP session, unless the row passes a delegation token.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../../src/audit/events.js";
import { createBroker } from "../../src/exchange/broker.js";
import type { Form } from "../helpers/assertions.js";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";
import { ALICE, callTool, connectHttp, decode, without } from "../helpers/mcp.js";

type Agent = "orchestrator" | "flight-booker" | "researcher";

/** Delegation tokens the rows refer to by name; made in `beforeAll`. */
type TokenRef = "delegation" | "revokedDelegation";

interface Row {
  readonly name: string;
  readonly agent: Agent;
  readonly tool: "request_token" | "delegate";
  /** The tool's arguments; `subject_token` names a delegation token made beforehand. */
  readonly args: Record<string, unknown> & { subject_token?: TokenRef };
  /**
   * What the HTTP door must answer: issued (with `expires_in`), this code and audit rule, or
   * waiting for a human (rule 6: `authorization_pending` over HTTP, `approval_required` over MCP).
   */
  readonly expected:
    | { readonly expires_in: number }
    | { readonly error: string; readonly rule: string }
    | { readonly approval: "pending" };
  /**
   * The MCP schema requires `scopes` (design §3.5), so a request without scope cannot reach
   * the core through the tool: the SDK refuses the call at input validation.
   */
  readonly mcpSchemaRefuses?: true;
}

const ROWS: readonly Row[] = [
  {
    name: "good access token",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "calendar", scopes: ["calendar.read"], reason: "find a free afternoon" },
    expected: { expires_in: 300 },
  },
  {
    name: "no scope, for an API without default_scopes",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "docs" },
    expected: { error: "invalid_scope", rule: "narrow.scope.none" },
    mcpSchemaRefuses: true,
  },
  {
    name: "unknown API",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "payroll", scopes: ["calendar.read"] },
    expected: { error: "invalid_target", rule: "target.unknown" },
  },
  {
    name: "scopes of two APIs in one request",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "calendar", scopes: ["calendar.read", "docs.read"] },
    expected: { error: "invalid_scope", rule: "narrow.scope.api" },
  },
  {
    name: "unknown scope",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "docs", scopes: ["docs.admin"] },
    expected: { error: "invalid_scope", rule: "narrow.scope.unknown" },
  },
  {
    name: "a scope the agent lacks",
    agent: "flight-booker",
    tool: "request_token",
    args: { api: "calendar", scopes: ["calendar.read"] },
    expected: { error: "invalid_scope", rule: "narrow.scope.agent" },
  },
  {
    name: "an elevated scope",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "calendar", scopes: ["calendar.write"] },
    expected: { approval: "pending" },
  },
  {
    name: "ttl capped by the API's max_ttl",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "calendar", scopes: ["calendar.read"], ttl_seconds: 7200 },
    expected: { expires_in: 600 },
  },
  {
    name: "the API named by its resource URI",
    agent: "orchestrator",
    tool: "request_token",
    args: { api: "https://docs.example.com/api", scopes: ["docs.read"] },
    expected: { expires_in: 300 },
  },
  {
    name: "delegation along a policy edge",
    agent: "orchestrator",
    tool: "delegate",
    args: {
      to_agent: "flight-booker",
      scopes: ["flights.search"],
      ttl_seconds: 600,
      reason: "book the flight",
    },
    expected: { expires_in: 600 },
  },
  {
    name: "delegation off the policy edges",
    agent: "orchestrator",
    tool: "delegate",
    args: { to_agent: "impersonator", scopes: ["docs.read"] },
    expected: { error: "invalid_target", rule: "delegate.edge" },
  },
  {
    name: "delegation of a scope the sub-agent lacks",
    agent: "orchestrator",
    tool: "delegate",
    args: { to_agent: "researcher", scopes: ["calendar.read"] },
    expected: { error: "invalid_scope", rule: "narrow.scope.delegate" },
  },
  {
    name: "the sub-agent redeems its delegation token",
    agent: "flight-booker",
    tool: "request_token",
    args: {
      api: "flights",
      scopes: ["flights.search"],
      ttl_seconds: 3600,
      subject_token: "delegation",
    },
    expected: { expires_in: 900 },
  },
  {
    name: "the sub-agent asks past its delegation token's scope",
    agent: "flight-booker",
    tool: "request_token",
    args: { api: "docs", scopes: ["docs.read"], subject_token: "delegation" },
    expected: { error: "invalid_scope", rule: "narrow.scope.subject" },
  },
  {
    name: "the sub-agent delegates further",
    agent: "flight-booker",
    tool: "delegate",
    args: { to_agent: "researcher", scopes: ["flights.search"], subject_token: "delegation" },
    expected: { expires_in: 300 },
  },
  {
    name: "a delegation token redeemed by the wrong agent",
    agent: "researcher",
    tool: "request_token",
    args: { api: "flights", scopes: ["flights.search"], subject_token: "delegation" },
    expected: { error: "invalid_request", rule: "subject.may_act" },
  },
  {
    name: "a revoked subject token",
    agent: "flight-booker",
    tool: "request_token",
    args: { api: "flights", scopes: ["flights.search"], subject_token: "revokedDelegation" },
    expected: { error: "invalid_request", rule: "subject.revoked" },
  },
];

let broker: TestBroker;
/** Per agent: alice's token naming that agent, the bearer of its MCP session. */
const bearers = new Map<Agent, string>();
const sessions = new Map<Agent, Client>();
const tokens = new Map<TokenRef, string>();

beforeAll(async () => {
  broker = await startTestBroker();
  for (const agent of ["orchestrator", "flight-booker", "researcher"] as const) {
    const bearer = await broker.devToken(ALICE, { agent });
    bearers.set(agent, bearer);
    sessions.set(agent, await connectHttp(broker.url, bearer));
  }
  tokens.set("delegation", await delegate(["flights.search"], 900));
  const revoked = await delegate(["flights.search"], 900);
  const res = await broker.post("/revoke", { token: revoked }, "orchestrator");
  expect(res.status).toBe(200);
  tokens.set("revokedDelegation", revoked);
});
afterAll(async () => {
  await Promise.all([...sessions.values()].map((c) => c.close()));
  await broker.close();
});

/** A delegation token from the orchestrator to flight-booker, for alice. */
async function delegate(scopes: string[], ttl: number): Promise<string> {
  const res = await broker.post(
    "/token",
    {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: bearers.get("orchestrator") as string,
      subject_token_type: TOKEN_TYPE.jwt,
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: scopes.join(" "),
      ttl_seconds: String(ttl),
    },
    "orchestrator",
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** The tool arguments with delegation-token names replaced by the tokens. */
function toolArgs(row: Row): Record<string, unknown> {
  const { subject_token, ...rest } = row.args;
  return subject_token === undefined ? rest : { ...rest, subject_token: tokens.get(subject_token) };
}

/** The RFC 8693 §2.1 form a non-MCP client sends for the same request. */
function formOf(row: Row): Form {
  const a = row.args as Record<string, any>;
  const target: string = row.tool === "delegate" ? a.to_agent : a.api;
  const form: Form = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: (a.subject_token
      ? tokens.get(a.subject_token)
      : bearers.get(row.agent)) as string,
    subject_token_type: TOKEN_TYPE.jwt,
    requested_token_type: row.tool === "delegate" ? TOKEN_TYPE.jwt : TOKEN_TYPE.accessToken,
    // RFC 8707: a URI is a `resource`; a logical name (API or sub-agent id) an `audience`.
    [target.includes("://") ? "resource" : "audience"]: target,
  };
  if (a.scopes) form.scope = (a.scopes as string[]).join(" ");
  if (a.ttl_seconds !== undefined) form.ttl_seconds = String(a.ttl_seconds);
  if (a.reason !== undefined) form.reason = a.reason;
  return form;
}

/** What a door answered, in the terms both doors share. */
interface Answer {
  readonly issued: boolean;
  readonly error?: string;
  readonly error_description?: string;
  readonly scope?: string;
  readonly expires_in?: number;
  readonly token_type?: string;
  readonly issued_token_type?: string;
  readonly header?: Record<string, unknown>;
  /** Every claim but `jti`. */
  readonly claims?: Record<string, unknown>;
  /** While a human must approve (rule 6): the approval, and where it is decided. */
  readonly approval_id?: string;
  readonly approval_uri?: string;
  /** The raw answer, serialised: no token may be anywhere in it. */
  readonly raw?: string;
  /** The audit events the request wrote, without `jti` and `parent_jti`. */
  readonly events: unknown[];
}

function tokenView(token: string) {
  return {
    header: decodeProtectedHeader(token) as Record<string, unknown>,
    claims: without(decode(token), ["jti"]) as Record<string, unknown>,
  };
}

const issuedCount = () => broker.events.filter((e) => e.type === "exchange.issued").length;

const auditSince = (before: number): unknown[] =>
  broker.events.slice(before).map((e: AuditEvent) => without(e, ["jti", "parent_jti", "ts"]));

async function viaToken(row: Row): Promise<Answer> {
  const before = broker.events.length;
  const res = await broker.post("/token", formOf(row), row.agent);
  const body = (await res.json()) as Record<string, any>;
  const events = auditSince(before);
  if (res.status !== 200) {
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(res.headers.get("cache-control")).toBe("no-store");
    return {
      issued: false,
      error: body.error,
      error_description: body.error_description,
      ...(body.error === "authorization_pending"
        ? {
            approval_id: body.approval_id,
            approval_uri: body.approval_uri,
            raw: JSON.stringify(body),
          }
        : {}),
      events,
    };
  }
  return {
    issued: true,
    scope: body.scope,
    expires_in: body.expires_in,
    token_type: body.token_type,
    issued_token_type: body.issued_token_type,
    ...tokenView(body.access_token),
    events,
  };
}

async function viaTool(row: Row): Promise<Answer> {
  const before = broker.events.length;
  const { isError, out, text } = await callTool(
    sessions.get(row.agent) as Client,
    row.tool,
    toolArgs(row),
  );
  const events = auditSince(before);
  if (isError) {
    return {
      issued: false,
      ...(out.error === undefined ? {} : { error: out.error }),
      ...(out.error_description === undefined ? {} : { error_description: out.error_description }),
      events,
    };
  }
  if (out.status === "approval_required") {
    return {
      issued: false,
      approval_id: out.approval_id,
      approval_uri: out.approve_url,
      raw: JSON.stringify({ out, text }),
      events,
    };
  }
  const token: string = out.access_token ?? out.delegation_token;
  return {
    issued: true,
    scope: out.scope,
    expires_in: out.expires_in,
    // `delegate` returns neither type: a delegation token is always N_A / jwt (design §3.4).
    token_type: out.token_type ?? "N_A",
    issued_token_type: out.issued_token_type ?? TOKEN_TYPE.jwt,
    ...tokenView(token),
    events,
  };
}

describe("parity: POST /token and the MCP tools decide alike (issue 3 item 5, design §5)", () => {
  it("covers at least 12 requests, allowed and refused", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(12);
    expect(ROWS.some((r) => "error" in r.expected)).toBe(true);
    expect(ROWS.some((r) => !("error" in r.expected))).toBe(true);
  });

  for (const row of ROWS) {
    const outcome =
      "error" in row.expected
        ? row.expected.error
        : "approval" in row.expected
          ? "waiting for approval"
          : "issued";
    it(`${row.name}: ${outcome} through both doors`, async () => {
      const http = await viaToken(row);

      if ("approval" in row.expected) {
        // Rule 6: both doors open an approval and issue nothing; the agent waits for a human.
        // The first is decided first: an identical request still pending would get it back.
        await createBroker(broker.deps).decideAs(
          { operator: true },
          http.approval_id as string,
          "denied",
        );
        const issuedBefore = issuedCount();
        const mcp = await viaTool(row);
        expect(issuedCount()).toBe(issuedBefore);
        for (const [door, answer] of [
          ["http", http],
          ["mcp", mcp],
        ] as const) {
          expect(answer.issued, door).toBe(false);
          expect(answer.approval_id, door).toMatch(/^apr_/);
          expect(answer.approval_uri, door).toBe(
            `${broker.issuer}/approvals/${answer.approval_id}`,
          );
          expect(answer.raw, door).not.toMatch(/eyJ[\w-]+\.eyJ/);
          expect(answer.events, door).toContainEqual(
            expect.objectContaining({ type: "approval.requested", approval: answer.approval_id }),
          );
          expect(
            answer.events.filter((e) => (e as AuditEvent).type === "approval.requested"),
            door,
          ).toHaveLength(1);
          expect(answer.events, door).not.toContainEqual(
            expect.objectContaining({ type: "exchange.issued" }),
          );
        }
        expect(http.error).toBe("authorization_pending");
        expect(JSON.parse(http.raw as string)).toMatchObject({ interval: 5 });
        expect(JSON.parse(mcp.raw as string).out).toEqual({
          status: "approval_required",
          approval_id: mcp.approval_id,
          approve_url: mcp.approval_uri,
          expires_in: broker.policy.broker.approvalTtl,
          hint: expect.stringContaining("approve_url"),
        });
        // Two requests, two approvals; otherwise the doors wrote the same audit trail.
        expect(mcp.approval_id).not.toBe(http.approval_id);
        expect(without(mcp.events, ["approval"])).toEqual(without(http.events, ["approval"]));
        return;
      }

      // The HTTP door answers as the row expects, so the comparison below is not vacuous.
      if ("error" in row.expected) {
        expect(http.error).toBe(row.expected.error);
        expect(http.events).toEqual([
          expect.objectContaining({ type: "exchange.denied", rule: row.expected.rule }),
        ]);
      } else {
        expect(http.issued).toBe(true);
        expect(http.expires_in).toBe(row.expected.expires_in);
        expect(http.events).toEqual([expect.objectContaining({ type: "exchange.issued" })]);
      }

      if (row.mcpSchemaRefuses) {
        // The tool cannot even express this request: refused at its input schema, before the
        // core, so the decision (refused) matches but there is no OAuth code to compare.
        const outcome = await callTool(sessions.get(row.agent) as Client, row.tool, toolArgs(row));
        expect(outcome.isError).toBe(true);
        expect(outcome.text).toMatch(/validation/i);
        expect(outcome.text).toContain("scopes");
        return;
      }
      expect(await viaTool(row)).toEqual(http);
    });
  }

  it("nests act when the sub-agent redeems its delegation token, through either door", async () => {
    const row = ROWS.find((r) => r.name === "the sub-agent redeems its delegation token") as Row;
    const mcp = await viaTool(row);
    expect(mcp.claims).toMatchObject({
      sub: ALICE,
      aud: "https://flights.example.com",
      client_id: "flight-booker",
      scope: "flights.search",
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
      exp: decode(tokens.get("delegation") as string).exp,
    });
  });
});
