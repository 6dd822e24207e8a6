/**
 * `/mcp` on `baton serve`: Streamable HTTP with sessions, as an OAuth protected resource (MCP
 * authorization 2025-11-25, RFC 9728, RFC 6750).
 *
 * Each request, in order: Host and Origin against DNS rebinding; the bearer token (a user's
 * token for this resource, naming its agent); the session, which stays bound to the user and
 * the agent that opened it; then the SDK transport. The bearer token is the session's subject
 * token inside Baton and is never forwarded anywhere.
 *
 * @module mcp/http-handler
 */

import { randomBytes } from "node:crypto";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { epochMs } from "../clock.js";
import { BatonError } from "../errors.js";
import {
  type BearerSession,
  createBroker,
  type ExchangeDeps,
  type ServingBroker,
} from "../exchange/broker.js";
import { embeddedSession } from "./embedded-session.js";
import { connectMcpServer } from "./server.js";

export interface McpHttpOptions {
  readonly deps: ExchangeDeps;
  /** The core's front door; built over `deps` unless given. */
  readonly broker?: ServingBroker;
  /** Host names (no port) a request may be addressed to. */
  readonly allowedHosts: ReadonlySet<string>;
  /** Origins a browser-borne request may come from. */
  readonly allowedOrigins: ReadonlySet<string>;
  /** RFC 9728 §5.1: where a client finds this resource's metadata. */
  readonly resourceMetadataUrl: string;
  readonly maxSessions?: number;
  /** Sessions unused this long (ms, by the deps' clock) are closed. */
  readonly idleMs?: number;
  readonly maxBodyBytes?: number;
}

interface Session {
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly agentId: string;
  readonly subject: string;
  /** The latest bearer token presented: the session's subject token. */
  token: string;
  lastSeen: number;
}

export interface McpHttpHandler {
  handle(request: Request): Promise<Response>;
  close(): Promise<void>;
}

export function createMcpHttpHandler(options: McpHttpOptions): McpHttpHandler {
  const broker = options.broker ?? createBroker(options.deps);
  const sessions = new Map<string, Session>();
  const now = () => epochMs(options.deps.clock);

  async function handle(request: Request): Promise<Response> {
    const refused = checkHostAndOrigin(request, options);
    if (refused) return refused;
    const bearer = await authenticate(request, broker, options.resourceMetadataUrl);
    if (bearer instanceof Response) return bearer;

    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId === null) return openSession(request, bearer);
    const session = sessions.get(sessionId);
    if (!session) return jsonRpcError(404, "Session not found");
    // The session belongs to the user and agent that opened it, whatever token is presented.
    if (
      session.subject !== bearer.caller.sessionSubject ||
      session.agentId !== bearer.caller.agentId
    ) {
      return jsonRpcError(403, "This session belongs to another user or agent");
    }
    session.token = bearer.token;
    session.lastSeen = now();
    return session.transport.handleRequest(request);
  }

  async function openSession(request: Request, { caller, token }: Bearer): Promise<Response> {
    closeIdle(sessions, now() - (options.idleMs ?? 30 * 60_000));
    if (sessions.size >= (options.maxSessions ?? 1000)) {
      return jsonRpcError(503, "Too many open sessions", { "Retry-After": "5" });
    }
    const transport = new WebStandardStreamableHTTPServerTransport({
      // 128 random bits: a session id cannot be guessed (MCP transports: session management).
      sessionIdGenerator: () => randomBytes(16).toString("base64url"),
      maxRequestBodySize: options.maxBodyBytes ?? 256 * 1024,
      onsessioninitialized: (id) => {
        const { agentId, sessionSubject: subject } = caller;
        sessions.set(id, { transport, agentId, subject, token, lastSeen: now() });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    // The session's subject token is the latest bearer token it was presented with.
    const mcpSession = embeddedSession(broker, caller, async () => {
      const id = transport.sessionId;
      return (id === undefined ? undefined : sessions.get(id)?.token) ?? token;
    });
    await connectMcpServer(mcpSession, transport);
    const response = await transport.handleRequest(request);
    // A request that did not open a session (not an initialize) leaves nothing behind.
    if (transport.sessionId === undefined) await transport.close();
    return response;
  }

  return {
    handle,
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.transport.close()));
      sessions.clear();
    },
  };
}

interface Bearer {
  readonly caller: BearerSession;
  readonly token: string;
}

/**
 * The bearer token (RFC 6750 §2.1) and whom it names, or the 401 that answers its absence.
 * RFC 6750 §3.1: no error code when the request carried no credentials at all, or used another
 * authentication scheme; a malformed Bearer credential is `invalid_request`.
 */
async function authenticate(
  request: Request,
  broker: ServingBroker,
  resourceMetadataUrl: string,
): Promise<Bearer | Response> {
  const challenge = (error?: string) =>
    unauthorized(
      `Bearer resource_metadata="${resourceMetadataUrl}"${error ? `, error="${error}"` : ""}`,
    );
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  if (!match) return challenge(/^Bearer(\s|$)/i.test(header) ? "invalid_request" : undefined);
  const token = match[1] as string;
  try {
    return { caller: await broker.authenticateBearer(token), token };
  } catch (err) {
    if (err instanceof BatonError && err.status === 401) return challenge("invalid_token");
    return jsonRpcError(503, "The service is temporarily unavailable", { "Retry-After": "1" });
  }
}

/** Closes the sessions last seen before `cutoff` (epoch ms). */
function closeIdle(sessions: Map<string, Session>, cutoff: number): void {
  for (const [id, session] of sessions) {
    if (session.lastSeen < cutoff) {
      sessions.delete(id);
      void session.transport.close();
    }
  }
}

/**
 * DNS rebinding (MCP transports, security warning): a page on evil.example that resolves to
 * this machine reaches the server with its own Host and Origin. Refuse both unless ours.
 */
function checkHostAndOrigin(request: Request, options: McpHttpOptions): Response | undefined {
  const host = request.headers.get("host");
  if (host === null || !options.allowedHosts.has(hostname(host))) {
    return jsonRpcError(403, "Host not allowed");
  }
  const origin = request.headers.get("origin");
  if (origin !== null && !options.allowedOrigins.has(origin)) {
    return jsonRpcError(403, "Origin not allowed");
  }
  return undefined;
}

/** `host[:port]` or `[v6][:port]` → the host name, lower-cased. */
function hostname(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

function unauthorized(challenge: string): Response {
  return jsonRpcError(401, "Unauthorized", { "WWW-Authenticate": challenge });
}

function jsonRpcError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }),
    {
      status,
      headers: { "content-type": "application/json", ...headers },
    },
  );
}
