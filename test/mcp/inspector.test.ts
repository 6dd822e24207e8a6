/**
 * A real third-party MCP client against `baton mcp` on stdio (issue 3, "done when"), started the
 * way a user starts it (issue 17): `npm run inspect` from the project root, which runs
 * scripts/inspect.mjs under the MCP Inspector (`@modelcontextprotocol/inspector`, a
 * devDependency) on `bin/baton.js mcp --agent orchestrator --dev-user alice@example.com`.
 * `--cli` lists the tools and calls request_token, and its JSON stdout is what the tests read;
 * without it, the web UI starts on a free port and its backend runs Baton's tools. The
 * policies, the store and the audit file come in BATON_* variables, which the script hands to
 * `baton mcp` (the Inspector itself gives its server a minimal environment).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/broker.js";
import {
  Children,
  CLI,
  type CliResult,
  cliEnv,
  collect,
  TEST_POLICIES as POLICIES,
  ROOT,
} from "../helpers/cli-process.js";
import { ALICE, TOOL_NAMES } from "../helpers/mcp.js";

let dir: string;
const children = new Children();

beforeAll(async () => {
  dir = await children.tempDir("baton-inspector-");
});
afterEach(async () => {
  // npm runs the script, which runs the Inspector, which spawns baton: a test that timed out
  // leaves a process group behind. Each run has its own group, ended here by its leader's pid.
  await children.stopAll();
});
afterAll(() => children.removeDirs());

/**
 * The environment of one run: the test's policies, store and audit file (never the repo's
 * `policies/` or `data/`), and TMPDIR in the test's directory, so that the script's config
 * file is removed with it even when a run is killed.
 */
function inspectEnv(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({
    BATON_POLICIES: POLICIES,
    BATON_STORE: `sqlite://${dir}/b.db`,
    BATON_AUDIT: join(dir, "a.jsonl"),
    TMPDIR: dir,
    ...extra,
  });
}

/** `npm run inspect -- <args>` from the project root, in a process group of its own. */
function npmInspect(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn("npm", ["run", "inspect", ...(args.length ? ["--", ...args] : [])], {
    cwd: ROOT,
    env: inspectEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.track(child, { group: true });
  return child;
}

/** `node scripts/inspect.mjs <args>`: the same script without npm and the build in front. */
function scriptInspect(args: readonly string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ["scripts/inspect.mjs", ...args], {
    cwd: ROOT,
    env: inspectEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.track(child, { group: true });
  return collect(child);
}

/** The Inspector CLI's exit code when the tool answers `isError: true` (stdout has the result). */
const TOOL_ERROR_EXIT = 5;

/**
 * The Inspector's JSON result; fails with its stderr when it did not exit with `code`. npm
 * prints its `> baton@… inspect` lines first on stdout, so the JSON starts at the first line
 * opening it.
 */
function resultOf(run: CliResult, code = 0): any {
  expect(run.code, run.stderr).toBe(code);
  // The issue this closes: inspector-cli 1.0.3 failed from the project root with this.
  expect(run.stderr).not.toMatch(/Cannot find module/);
  return JSON.parse(run.stdout.slice(run.stdout.search(/^[{[]/m)));
}

async function auditEvents(): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, "a.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** The config files scripts/inspect.mjs left in TMPDIR (none once a run has ended). */
async function leftConfigs(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith("baton-inspect-"));
}

describe("npm run inspect --cli: the MCP Inspector CLI against `baton mcp` (stdio)", () => {
  it("tools/list: the tools, with strict input schemas and output schemas", async () => {
    const { tools } = resultOf(await collect(npmInspect(["--cli", "--method", "tools/list"])));
    expect(tools.map((t: { name: string }) => t.name).sort()).toEqual(TOOL_NAMES);
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTypeOf("string");
      expect(tool.description, tool.name).toBeTypeOf("string");
      expect(tool.annotations?.readOnlyHint, tool.name).toBeTypeOf("boolean");
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
      expect(tool.outputSchema?.type, tool.name).toBe("object");
    }
    expect(await leftConfigs()).toEqual([]);
  }, 60_000);

  it("tools/call request_token: an access token for calendar whose act is orchestrator", async () => {
    const result = resultOf(
      await collect(
        npmInspect([
          "--cli",
          "--method",
          "tools/call",
          "--tool-name",
          "request_token",
          "--tool-arg",
          "api=calendar",
          'scopes=["calendar.read"]',
        ]),
      ),
    );
    expect(result.isError).not.toBe(true);
    const out = result.structuredContent;
    expect(out).toMatchObject({
      token_type: "Bearer",
      scope: "calendar.read",
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
    });
    // Design §3.5: the text content is a one-line summary plus the token, not a second copy.
    expect(result.content[0].text.split("\n")).toEqual([
      expect.stringMatching(/^Access token for calendar: calendar\.read, expires in \d+ s\.$/),
      out.access_token,
    ]);

    const claims = decodeJwt(out.access_token);
    expect(claims).toMatchObject({
      sub: ALICE,
      aud: "https://calendar.example.com",
      client_id: "orchestrator",
      scope: "calendar.read",
      act: { sub: "orchestrator" },
    });
    expect(out.expires_in).toBe((claims.exp as number) - (claims.iat as number));

    // The embedded broker audited the exchange in the audit file BATON_AUDIT named.
    const issued = (await auditEvents()).filter((e) => e.type === "exchange.issued");
    expect(issued.at(-1)).toMatchObject({
      agent: "orchestrator",
      subject: ALICE,
      chain: ["orchestrator"],
      jti: claims.jti,
    });
  }, 60_000);

  it("tools/call with an identity argument: refused, nothing issued", async () => {
    const before = (await auditEvents()).filter((e) => e.type === "exchange.issued").length;
    // `--cli` after the Inspector's own options: the script moves it first, where the
    // Inspector's launcher wants its mode.
    const run = await scriptInspect([
      "--method",
      "tools/call",
      "--cli",
      "--tool-name",
      "request_token",
      "--tool-arg",
      "api=calendar",
      'scopes=["calendar.read"]',
      "agent=flight-booker",
    ]);
    const result = resultOf(run, TOOL_ERROR_EXIT);
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/Input validation error/);
    expect(run.stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
    const after = (await auditEvents()).filter((e) => e.type === "exchange.issued").length;
    expect(after).toBe(before);
  }, 60_000);
});

/** Whether any process of the group `pgid` is still running (signal 0 only checks). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads a child's stdout until `pattern` matches; the match. */
function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk;
      const match = text.match(pattern);
      if (match) {
        child.stdout?.off("data", onData);
        resolve(match);
      }
    };
    child.stdout?.on("data", onData);
    child.once("close", (code) => reject(new Error(`exited (${code}) before ${pattern}: ${text}`)));
  });
}

/** The JSON-RPC messages of a web UI session, from its server-sent event stream. */
async function* sessionMessages(response: Response): AsyncGenerator<Record<string, any>> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const data = buffer
        .slice(0, end)
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n");
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      if (!data) continue;
      const event = JSON.parse(data);
      if (event.type === "message") yield event.data;
    }
  }
}

describe("npm run inspect: the MCP Inspector web UI", () => {
  it("its page on CLIENT_PORT, Baton's server entry and tools; Ctrl-C stops it all", async () => {
    const port = await freePort();
    const child = npmInspect([], {
      CLIENT_PORT: String(port),
      // The UI's two helper servers (MCP Apps) on ports the system picks.
      MCP_SANDBOX_PORT: "0",
      MCP_APP_ORIGIN_PORT: "0",
      MCP_AUTO_OPEN_ENABLED: "false",
    });
    const [, token] = await waitForOutput(
      child,
      new RegExp(`http://127\\.0\\.0\\.1:${port}\\?MCP_INSPECTOR_API_TOKEN=([0-9a-f]+)`),
    );
    const base = `http://127.0.0.1:${port}`;

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>MCP Inspector</title>");

    // The entry the page offers: baton mcp for the orchestrator and alice, with the test's
    // BATON_* settings. Only with the token the Inspector printed.
    expect((await fetch(`${base}/api/servers`)).status).toBe(401);
    const auth = { "x-mcp-remote-auth": `Bearer ${token}`, "content-type": "application/json" };
    const { mcpServers } = (await (
      await fetch(`${base}/api/servers`, { headers: auth })
    ).json()) as { mcpServers: Record<string, Record<string, unknown>> };
    expect(Object.keys(mcpServers)).toEqual(["baton"]);
    expect(mcpServers.baton).toMatchObject({
      type: "stdio",
      command: process.execPath,
      args: [CLI, "mcp", "--agent", "orchestrator", "--dev-user", ALICE],
      cwd: resolve(ROOT),
      env: { BATON_POLICIES: POLICIES },
    });

    // What the page does on "Connect" and on the Tools tab: the UI's backend starts baton
    // mcp on stdio, relays JSON-RPC, and answers through its event stream.
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) });
    const { sessionId } = (await (
      await post("/api/mcp/connect", { config: mcpServers.baton })
    ).json()) as { sessionId?: string };
    expect(sessionId, "connect").toBeTypeOf("string");
    const events = new AbortController();
    const stream = await fetch(`${base}/api/mcp/events?sessionId=${sessionId}`, {
      headers: auth,
      signal: events.signal,
    });
    const messages = sessionMessages(stream);
    const send = async (message: Record<string, unknown>) =>
      expect(await (await post("/api/mcp/send", { sessionId, message })).json()).toEqual({
        ok: true,
      });
    const next = async () => (await messages.next()).value;
    await send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    });
    expect((await next()).result.serverInfo.name).toBe("baton");
    await send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await send({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const listed = await next();
    expect(listed.id).toBe(2);
    expect(listed.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(TOOL_NAMES);
    await post("/api/mcp/disconnect", { sessionId });
    events.abort();

    // Ctrl-C in the terminal reaches the whole foreground group: everything stops, and the
    // script removes its config file.
    const closed = collect(child);
    process.kill(-(child.pid as number), "SIGINT");
    await closed;
    await expect.poll(() => groupAlive(child.pid as number), { timeout: 10_000 }).toBe(false);
    expect(await leftConfigs()).toEqual([]);
  }, 60_000);
});
