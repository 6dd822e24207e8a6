/**
 * Shared by the framework tests (issue 20): the agent frameworks and the newest MCP conformance
 * suite live in this folder's own workspace (package.json here, `npm ci --prefix test/frameworks`),
 * never in Baton's install. Several need Node >= 22, so every file here skips, with a warning
 * saying why, on an older Node or when the workspace is not installed.
 *
 * Imports of the frameworks are dynamic, by a name in a variable: resolved from this folder, so
 * from test/frameworks/node_modules, and unknown to the type checker (a fresh clone typechecks
 * without the workspace installed).
 */

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeJwt, type JWTPayload } from "jose";
import { afterAll, beforeAll, expect } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { Children, CLI, storeFlags } from "../helpers/cli-process.js";

export const WORKSPACE = dirname(fileURLToPath(import.meta.url));
export const ALICE = "alice@example.com";

/** Why this Node cannot run the framework tests, or undefined when it can. */
function skipReason(): string | undefined {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 22) {
    return `Node ${process.versions.node}: the frameworks need Node >= 22 (CI runs them on 26 and 22)`;
  }
  if (!existsSync(join(WORKSPACE, "node_modules"))) {
    return "test/frameworks/node_modules is missing: run npm ci --prefix test/frameworks";
  }
  return undefined;
}

/** Set when the tests of `what` cannot run here; the reason is printed once per file. */
export function skipping(what: string): boolean {
  const reason = skipReason();
  if (reason !== undefined) console.warn(`${what}: skipped. ${reason}`);
  return reason !== undefined;
}

/** A package of the workspace (test/frameworks/node_modules), untyped. */
export function load(name: string): Promise<any> {
  return import(name);
}

/** The 8 tools, sorted: the list every MCP test checks. */
export { TOOL_NAMES } from "../helpers/mcp.js";

/** A request_token the policy grants, and one it refuses (an API not in policy). */
export const GRANTED = { api: "calendar", scopes: ["calendar.read"] };
export const REFUSED = { api: "payroll", scopes: ["calendar.read"] };
/** The refusal's hint: the next call and the values to use, from policy. */
export const TARGET_HINT =
  /Call request_token with api one of: calendar, flights(, docs)? \(call whoami for the scopes of each\)\./;
export const WHOAMI_LINE = "orchestrator for alice@example.com, chain orchestrator";

/**
 * whoami as the model reads it in a framework that shows the text alone: the line, then the
 * whole answer (src/mcp/result.ts), so the APIs and their scopes reach the model too.
 */
export function expectWhoamiInFull(text: string): void {
  expect(text).toContain(`${WHOAMI_LINE}. In full:`);
  const json = text.slice(text.indexOf("{"));
  expect(JSON.parse(json)).toMatchObject({
    agent: "orchestrator",
    apis: expect.arrayContaining([expect.objectContaining({ id: "calendar" })]),
  });
}

const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

/** The one access token in what the model sees, decoded: for the calendar, calendar.read. */
export function expectCalendarToken(seen: string): { token: string; claims: JWTPayload } {
  expect(seen).toContain("Access token for calendar: calendar.read");
  const token = JWT.exec(seen)?.[0];
  expect(token, seen).toBeDefined();
  const claims = decodeJwt(token as string);
  expect(claims).toMatchObject({
    sub: ALICE,
    aud: "https://calendar.example.com",
    scope: "calendar.read",
    client_id: "orchestrator",
  });
  return { token: token as string, claims };
}

/** What the model sees of a refusal: the code and the hint, never a token, secret or stack. */
export function expectRefusal(seen: string, secrets: readonly string[]): void {
  expect(seen).toContain("invalid_target");
  expect(seen).toMatch(TARGET_HINT);
  expect(seen).not.toMatch(JWT);
  for (const secret of secrets) expect(seen).not.toContain(secret);
  expect(seen).not.toMatch(/\n\s+at /);
}

/** Where each framework connects: `baton mcp` on stdio, and `/mcp` of a broker over HTTP. */
export interface Endpoints {
  /** `node bin/baton.js mcp --agent orchestrator --dev-user alice …` */
  readonly stdio: { readonly command: string; readonly args: string[] };
  /** `/mcp` of an in-process broker and Alice's token for the orchestrator. */
  readonly http: { readonly url: string; readonly token: string };
  readonly broker: TestBroker;
}

export async function endpoints(children: Children): Promise<Endpoints> {
  const dir = await children.tempDir("baton-frameworks-");
  const broker = await startTestBroker();
  const token = await broker.devToken(ALICE, { agent: "orchestrator" });
  return {
    stdio: {
      command: process.execPath,
      args: [CLI, "mcp", "--agent", "orchestrator", "--dev-user", ALICE, ...storeFlags(dir)],
    },
    http: { url: `${broker.url}/mcp`, token },
    broker,
  };
}

/**
 * A framework test file's setup: whether it skips (and why, printed once), and Baton's two
 * doors for its tests, started before them and stopped after. `ends()` is read inside a test.
 */
export function frameworkEndpoints(label: string): { readonly skip: boolean; ends(): Endpoints } {
  const skip = skipping(label);
  const children = new Children();
  let ends: Endpoints | undefined;
  beforeAll(async () => {
    if (!skip) ends = await endpoints(children);
  });
  afterAll(async () => {
    await ends?.broker.close();
    await children.cleanup();
  });
  return { skip, ends: () => ends as Endpoints };
}
