/**
 * Helpers of the MCP tests: an SDK `Client` over Streamable HTTP (bearer token) or over stdio
 * (a spawned `baton mcp`), tool calls that return the structured result and JWT decoding. The
 * processes themselves (spawning, tracking, cleanup) are in cli-process.ts.
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt, type JWTPayload } from "jose";
import { expect } from "vitest";
import { type Children, CLI, ROOT } from "./cli-process.js";

export const ALICE = "alice@example.com";
export const BOB = "bob@example.com";
/** The demo agents' client secrets (policies/agents.yaml says so in its comments). */
export const DEMO_SECRETS: Readonly<Record<string, string>> = {
  orchestrator: "orchestrator-secret",
  "flight-booker": "flight-booker-secret",
};

export const decode = (token: string): JWTPayload => decodeJwt(token);

// ---------------------------------------------------------------------------------------------
// Tool calls

export interface ToolOutcome {
  readonly isError: boolean;
  /** `structuredContent`: the tool's result, or `{error, error_description, hint}`. */
  readonly out: Record<string, any>;
  /** The text content, joined. */
  readonly text: string;
}

/** Calls a tool and returns its structured result, whether a success or a refusal. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<ToolOutcome> {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as { type: string; text?: string }[])
    .map((c) => c.text ?? "")
    .join("\n");
  return {
    isError: result.isError === true,
    out: (result.structuredContent ?? {}) as Record<string, any>,
    text,
  };
}

/** Calls a tool that must succeed; its structured result. */
export async function callOk(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const outcome = await callTool(client, name, args);
  expect(outcome.isError, `${name} failed: ${outcome.text}`).toBe(false);
  return outcome.out;
}

/** Calls a tool that must be refused with `code`; the refusal, checked for its shape. */
export async function callRefused(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  code: string,
): Promise<Record<string, any>> {
  const outcome = await callTool(client, name, args);
  expect(outcome.isError, `${name} should be refused: ${outcome.text}`).toBe(true);
  expect(outcome.out.error, outcome.text).toBe(code);
  expectRefusalShape(outcome);
  return outcome.out;
}

/** Design §3.5: code, fixed description and hint, in text and structure; never a token. */
export function expectRefusalShape(outcome: ToolOutcome): void {
  expect(Object.keys(outcome.out).sort()).toEqual(["error", "error_description", "hint"]);
  expect(outcome.out.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
  expect(outcome.out.hint).toBeTypeOf("string");
  expect(outcome.text).toContain(outcome.out.error);
  expect(outcome.text).toContain(outcome.out.hint);
  expect(JSON.stringify(outcome)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  expect(outcome.text).not.toMatch(/\n\s+at /); // no stack
}

/** The tools of issues 3, 4 and 5, sorted by name. */
export const TOOL_NAMES = [
  "approval_status",
  "delegate",
  "end_task",
  "list_apis",
  "request_token",
  "revoke_token",
  "start_task",
  "whoami",
];

/** listTools: every tool, each with a title, annotations and both schemas. */
export async function expectTools(client: Client): Promise<void> {
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
  for (const tool of tools) {
    expect(tool.title, tool.name).toBeTypeOf("string");
    expect(tool.description?.length ?? 0, tool.name).toBeGreaterThan(80);
    expect(tool.annotations, tool.name).toMatchObject({
      readOnlyHint: expect.any(Boolean),
      destructiveHint: expect.any(Boolean),
      idempotentHint: expect.any(Boolean),
    });
    expect(tool.inputSchema.type, tool.name).toBe("object");
    // Strict inputs: unknown fields (an `agent` or `user` a model made up) are errors.
    expect((tool.inputSchema as { additionalProperties?: unknown }).additionalProperties).toBe(
      false,
    );
    expect(tool.outputSchema?.type, tool.name).toBe("object");
  }
  const byName = new Map(tools.map((t) => [t.name, t]));
  expect(byName.get("whoami")?.annotations?.readOnlyHint).toBe(true);
  expect(byName.get("list_apis")?.annotations?.readOnlyHint).toBe(true);
  expect(byName.get("approval_status")?.annotations?.readOnlyHint).toBe(true);
  expect(byName.get("request_token")?.annotations?.readOnlyHint).toBe(false);
  expect(byName.get("revoke_token")?.annotations?.destructiveHint).toBe(true);
  expect(byName.get("end_task")?.annotations?.destructiveHint).toBe(true);
  expect(byName.get("request_token")?.inputSchema.required).toEqual(
    expect.arrayContaining(["api", "scopes"]),
  );
  expect(byName.get("approval_status")?.inputSchema.required).toEqual(["approval_id"]);
}

// ---------------------------------------------------------------------------------------------
// Connecting

/** An SDK client over Streamable HTTP to `${url}/mcp`, with `bearer` on every request. */
export async function connectHttp(url: string, bearer: string): Promise<Client> {
  const client = new Client({ name: "baton-test", version: "0.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${bearer}` } },
  });
  await client.connect(transport);
  return client;
}

export interface StdioSession {
  readonly client: Client;
  /** What the server wrote to stderr so far (for failure messages). */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * `baton mcp <args>` spawned by the SDK's stdio transport, connected with an SDK client (one
 * that declares capabilities, such as elicitation, when given).
 */
export async function connectStdio(
  children: Children,
  args: readonly string[],
  env: Record<string, string> = {},
  client = new Client({ name: "baton-test", version: "0.0.0" }),
): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", ...args],
    cwd: ROOT,
    // Only the SDK's safe default variables: no BATON_* leaks in from the test's environment.
    env: { ...getDefaultEnvironment(), ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (c) => {
    stderr += c;
  });
  try {
    await client.connect(transport);
  } catch (err) {
    children.trackPid(transport.pid);
    throw new Error(`baton mcp did not start: ${stderr}`, { cause: err });
  }
  const pid = transport.pid;
  children.trackPid(pid);
  return {
    client,
    stderr: () => stderr,
    async close() {
      // The SDK ends stdin, then escalates to SIGTERM and SIGKILL: the process is gone after.
      await client.close();
      children.forget(pid);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Comparing

/** A copy without the named members, at any depth. */
export function without(value: unknown, names: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => without(v, names));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([k]) => !names.includes(k))
      .map(([k, v]) => [k, without(v, names)]),
  );
}
