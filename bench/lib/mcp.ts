/**
 * A bare Streamable HTTP client, enough to open one session and check one tool call before
 * the load generator repeats it: the same raw requests autocannon then sends.
 */

export const PROTOCOL_VERSION = "2025-11-25";

export interface McpTarget {
  /** The `/mcp` URL. */
  readonly url: string;
  /** Extra headers (authorization). */
  readonly headers?: Record<string, string>;
}

export interface McpSession {
  readonly id: string;
  /** The headers every request of the session carries. */
  readonly headers: Record<string, string>;
}

const baseHeaders = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** The JSON-RPC messages of a response body, JSON or SSE (`data:` lines). */
export function messagesOf(contentType: string, body: string): unknown[] {
  if (contentType.includes("text/event-stream")) {
    return body
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => JSON.parse(l.slice(5).trim()) as unknown);
  }
  return body === "" ? [] : [JSON.parse(body) as unknown];
}

/** initialize + notifications/initialized; the session's id and headers. */
export async function openSession(target: McpTarget): Promise<McpSession> {
  const init = await fetch(target.url, {
    method: "POST",
    headers: { ...baseHeaders, ...target.headers },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "baton-bench", version: "0.0.0" },
      },
    }),
  });
  const body = await init.text();
  const id = init.headers.get("mcp-session-id");
  if (init.status !== 200 || id === null) {
    throw new Error(`${target.url}: initialize answered ${init.status}: ${body.slice(0, 300)}`);
  }
  const headers = {
    ...baseHeaders,
    ...target.headers,
    "mcp-protocol-version": PROTOCOL_VERSION,
    "mcp-session-id": id,
  };
  const initialized = await fetch(target.url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await initialized.text();
  if (initialized.status !== 202) {
    throw new Error(`${target.url}: notifications/initialized answered ${initialized.status}`);
  }
  return { id, headers };
}

/** The body of a `tools/call`; `[<id>]` is replaced by autocannon with a fresh id. */
export function toolCallBody(name: string, args: Record<string, unknown>, id = "[<id>]"): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  });
}

export interface ToolCallCheck {
  readonly status: number;
  readonly contentType: string;
  readonly structuredContent: Record<string, unknown>;
}

/** One tool call that must succeed (HTTP 200, a result, not `isError`). */
export async function callTool(
  url: string,
  session: McpSession,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolCallCheck> {
  const res = await fetch(url, {
    method: "POST",
    headers: session.headers,
    body: toolCallBody(name, args, "check-1"),
  });
  const text = await res.text();
  const contentType = res.headers.get("content-type") ?? "";
  const fail = (why: string) =>
    new Error(`${url}: tools/call ${name}: ${why}: ${res.status} ${text.slice(0, 300)}`);
  if (res.status !== 200) throw fail("not 200");
  const message = messagesOf(contentType, text).find(
    (m): m is { result: { isError?: boolean; structuredContent?: Record<string, unknown> } } =>
      typeof m === "object" && m !== null && "result" in m,
  );
  if (!message) throw fail("no result");
  if (message.result.isError === true) throw fail("isError");
  return {
    status: res.status,
    contentType,
    structuredContent: message.result.structuredContent ?? {},
  };
}
