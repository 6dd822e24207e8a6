/**
 * Issue 20 item 3: strict clients (OpenAI's strict function schemas, and frameworks built the
 * same way) make every optional field required and nullable, and send `null` for "not given".
 * For every tool, each optional input sent as `null` means absent: the same result as leaving
 * it out. A `null` for a required field, or for a field the tool does not have, is refused as
 * before, and nothing is issued. Over the SDK client in a Streamable HTTP session.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS } from "../../src/mcp/tools/index.js";
import { issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { callOk, callRefused, connectHttp } from "../helpers/mcp.js";

const ALICE = "alice@example.com";

let broker: TestBroker;
let client: Client;

beforeAll(async () => {
  broker = await startTestBroker();
  client = await connectHttp(broker.url, await broker.devToken(ALICE, { agent: "orchestrator" }));
});
afterAll(async () => {
  await client?.close();
  await broker?.close();
});

/** Each tool's optional fields, by the schema the tool publishes. */
const optionalFields = (name: string): string[] => {
  const tool = TOOLS.find((t) => t.name === name);
  const shape = (tool?.inputSchema.shape ?? {}) as Record<string, { isOptional(): boolean }>;
  return Object.keys(shape).filter((key) => shape[key]?.isOptional());
};
const allNull = (fields: readonly string[]) =>
  Object.fromEntries(fields.map((field) => [field, null]));

/** A call that succeeds with only its required fields, for each tool that has optional ones. */
const BASE: Readonly<Record<string, Record<string, unknown>>> = {
  whoami: {},
  list_apis: {},
  request_token: { api: "calendar", scopes: ["calendar.read"] },
  delegate: { to_agent: "flight-booker", scopes: ["flights.search"] },
  start_task: { purpose: "Plan a trip", scopes: ["calendar.read"] },
};

/** What may differ between two calls of one tool: what each call issues anew. */
const FRESH = new Set(["access_token", "delegation_token", "task_id", "expires_at"]);
const stable = (result: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(result).filter(([key]) => !FRESH.has(key)));

describe("an optional input sent as null means absent", () => {
  it("covers every tool that has optional inputs", () => {
    const withOptional = TOOLS.filter((t) => optionalFields(t.name).length > 0).map((t) => t.name);
    expect(withOptional.sort()).toEqual(Object.keys(BASE).sort());
  });

  it.each(Object.keys(BASE))(
    "%s: every optional field null, the same result as none",
    async (name) => {
      const base = BASE[name] as Record<string, unknown>;
      const fields = optionalFields(name).filter((field) => !(field in base));
      expect(fields.length).toBeGreaterThan(0);
      const withNulls = await callOk(client, name, { ...base, ...allNull(fields) });
      const without = await callOk(client, name, base);
      expect(stable(withNulls)).toEqual(stable(without));
    },
  );
});

describe("null where a field is required, or unknown, is still refused", () => {
  it.each([
    ["request_token", { api: null, scopes: ["calendar.read"] }, /^Check api against/],
    ["request_token", { api: "calendar", scopes: null }, /^Check scopes against/],
    ["delegate", { to_agent: null, scopes: ["flights.search"] }, /^Check to_agent against/],
    ["start_task", { purpose: null, scopes: ["calendar.read"] }, /^Check purpose against/],
    ["end_task", { task_id: null }, /^Check task_id against/],
    ["approval_status", { approval_id: null }, /^Check approval_id against/],
    ["revoke_token", { token: null }, /^Check token against/],
    // An unknown field is refused whatever its value: the hint names the fields the tool takes.
    [
      "request_token",
      { api: "calendar", scopes: ["calendar.read"], agent: null },
      /^request_token takes /,
    ],
    ["whoami", { user: null }, /^whoami takes /],
  ] as const)("%s %j: invalid_request, nothing issued", async (name, args, hint) => {
    const before = issuedCount(broker);
    const refusal = await callRefused(client, name, { ...args }, "invalid_request");
    expect(refusal.error_description).toBe(
      "Input validation error: the arguments do not match the input schema of the tool",
    );
    expect(refusal.hint).toMatch(hint);
    expect(issuedCount(broker)).toBe(before);
  });
});
