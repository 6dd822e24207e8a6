/**
 * Shared helpers of the adversarial, client-authentication and property tests: sending token
 * exchanges over real HTTP, asserting refusals (exact status, exact code, nothing issued),
 * hand-building JWTs an attacker could send, and a tiny counting HTTP server on loopback.
 */

import { createServer, type IncomingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, type JWTPayload } from "jose";
import { expect } from "vitest";
import { readActChain } from "../../src/tokens/act.js";
import { type TestBroker, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "./broker.js";

export type Form = Record<string, string | string[]>;

/** Credentials of an agent the base policy does not know (e.g. one a test policy adds). */
export interface AgentCredentials {
  readonly id: string;
  readonly secret: string;
}

/** Every OAuth error code design §3.6 allows on the wire. */
export const OAUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target",
  "authorization_pending",
  "access_denied",
  "expired_token",
  "slow_down",
]);

/** RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E. */
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

// ---------------------------------------------------------------------------------------------
// Sending

/** RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by ":" and base64-encoded. */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => new URLSearchParams({ s }).toString().slice(2);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}

/** A form body; array values repeat the parameter. */
export function formBody(form: Form): URLSearchParams {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of [v].flat()) body.append(k, value);
  return body;
}

/**
 * POST /token as a token exchange: `grant_type` and `subject_token_type` (jwt) are filled in
 * unless the form names them. `agent` is an agent id of the base policy (its secret comes
 * from the broker), explicit credentials, or nothing (no client authentication).
 */
export function exchange(
  broker: TestBroker,
  form: Form,
  agent?: string | AgentCredentials,
): Promise<Response> {
  const full: Form = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token_type: TOKEN_TYPE.jwt,
    ...form,
  };
  return postForm(broker, "/token", full, agent);
}

/** POSTs a form to a path of the broker, with client_secret_basic credentials (or none). */
export function postForm(
  broker: TestBroker,
  path: string,
  form: Form,
  agent?: string | AgentCredentials,
  headers: Record<string, string> = {},
): Promise<Response> {
  const all: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    ...headers,
  };
  if (agent !== undefined) {
    const { id, secret } =
      typeof agent === "string" ? { id: agent, secret: broker.secrets[agent] ?? "unknown" } : agent;
    all.authorization = basicAuth(id, secret);
  }
  return fetch(`${broker.url}${path}`, { method: "POST", headers: all, body: formBody(form) });
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/**
 * Sends exact bytes with exact headers over node:http (no fetch normalisation): non-UTF-8
 * bodies, chunked bodies without a length, odd header bytes.
 */
export function rawPost(
  url: string,
  path: string,
  headers: Record<string, string | number>,
  body: Buffer | readonly Buffer[],
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    // The server may answer (413/400) and close before the whole body is sent.
    req.on("error", reject);
    for (const chunk of Array.isArray(body) ? body : [body]) req.write(chunk);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Asserting

/** How many tokens the broker has issued so far (its `exchange.issued` audit events). */
export function issuedCount(broker: TestBroker): number {
  return broker.events.filter((e) => e.type === "exchange.issued").length;
}

export interface OAuthErrorBody {
  readonly error: string;
  readonly error_description?: string;
  readonly [name: string]: unknown;
}

/**
 * Asserts a refusal: the exact status and `error` code, an RFC 6749 §5.2 body with no token in
 * it, `Cache-Control: no-store`, and no new `exchange.issued` event.
 *
 * Pass the request's promise straight in (`expectRefused(b, exchange(…), …)`): the issued count
 * is read before the first await, so before the server can have handled the request.
 */
export async function expectRefused(
  broker: TestBroker,
  response: Promise<Response> | Response,
  status: number,
  code: string,
): Promise<{ res: Response; body: OAuthErrorBody }> {
  const before = issuedCount(broker);
  const res = await response;
  const text = await res.text();
  const body = parseJson(text);
  expect({ status: res.status, error: body?.error }, text).toEqual({ status, error: code });
  expectErrorShape(text, res.headers.get("cache-control"));
  expect(issuedCount(broker), "no token may be issued").toBe(before);
  return { res, body: body as OAuthErrorBody };
}

export interface PendingBody extends OAuthErrorBody {
  readonly approval_id: string;
  readonly approval_uri: string;
  readonly interval: number;
}

/**
 * Asserts that an elevated grant waits for a human (rule 6, design §3.6): `400
 * authorization_pending` checked as `expectRefused` checks a refusal (no token, no-store, no new
 * `exchange.issued`), with an `apr_` approval id, the page that decides it, a 5 s poll interval,
 * and exactly one new `approval.requested` audit event for that approval.
 *
 * Pass the request's promise straight in, as for `expectRefused`.
 */
export async function expectApprovalPending(
  broker: TestBroker,
  response: Promise<Response> | Response,
): Promise<PendingBody> {
  const mark = broker.events.length;
  const { body } = await expectRefused(broker, response, 400, "authorization_pending");
  const pending = body as PendingBody;
  expect(pending.approval_id).toBeTypeOf("string");
  expect(pending.approval_id).toMatch(/^apr_/);
  expect(pending.approval_uri).toBe(`${broker.issuer}/approvals/${pending.approval_id}`);
  expect(pending.interval).toBe(5);
  const requested = broker.events.slice(mark).filter((e) => e.type === "approval.requested");
  expect(requested).toEqual([
    expect.objectContaining({ type: "approval.requested", approval: pending.approval_id }),
  ]);
  return pending;
}

/** Like `expectRefused`, for a response read with `rawPost`. */
export function expectRawRefused(
  broker: TestBroker,
  before: number,
  res: RawResponse,
  status: number,
  code: string,
): void {
  const body = parseJson(res.text);
  expect({ status: res.status, error: body?.error }, res.text).toEqual({ status, error: code });
  expectErrorShape(res.text, res.headers["cache-control"]);
  expect(issuedCount(broker), "no token may be issued").toBe(before);
}

function expectErrorShape(text: string, cacheControl: string | null | undefined): void {
  const body = parseJson(text);
  expect(body, "an OAuth error body").toBeTypeOf("object");
  expect(OAUTH_ERROR_CODES.has(String(body?.error)), `known error code: ${text}`).toBe(true);
  expect(body).not.toHaveProperty("access_token");
  expect(text).not.toMatch(/eyJ[\w-]+\.eyJ/); // no JWT anywhere in an error
  if (body?.error_description !== undefined) {
    expect(body.error_description).toMatch(DESCRIPTION_CHARSET);
  }
  expect(cacheControl).toBe("no-store");
}

function parseJson(text: string): OAuthErrorBody | undefined {
  try {
    return JSON.parse(text) as OAuthErrorBody;
  } catch {
    return undefined;
  }
}

export interface Issued {
  readonly body: {
    access_token: string;
    issued_token_type: string;
    token_type: string;
    expires_in: number;
    scope: string;
  };
  readonly token: string;
  readonly claims: JWTPayload;
  /** The `act` chain, current actor first (empty without `act`). */
  readonly chain: string[];
}

/** Asserts a 200 token response with exactly one new `exchange.issued` event. */
export async function expectIssued(
  broker: TestBroker,
  response: Promise<Response> | Response,
): Promise<Issued> {
  const before = issuedCount(broker);
  const res = await response;
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(issuedCount(broker)).toBe(before + 1);
  const body = JSON.parse(text) as Issued["body"];
  const claims = decodeJwt(body.access_token);
  return {
    body,
    token: body.access_token,
    claims,
    chain: claims.act === undefined ? [] : (readActChain(claims.act) ?? ["<malformed act>"]),
  };
}

// ---------------------------------------------------------------------------------------------
// Forging

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT with `alg: none` and an empty signature (RFC 7519 §6.1), built by hand. */
export function unsignedJwt(
  payload: Record<string, unknown>,
  header: Record<string, unknown> = { alg: "none" },
): string {
  return `${b64url(header)}.${b64url(payload)}.`;
}

/** The same token with its payload changed and its signature kept. */
export function tamperPayload(token: string, patch: Record<string, unknown>): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload as string, "base64url").toString("utf8"));
  return `${header}.${b64url({ ...claims, ...patch })}.${signature}`;
}

/** The same token with its protected header changed and its signature kept. */
export function tamperHeader(token: string, patch: Record<string, unknown>): string {
  const [header, payload, signature] = token.split(".");
  const parsed = JSON.parse(Buffer.from(header as string, "base64url").toString("utf8"));
  return `${b64url({ ...parsed, ...patch })}.${payload}.${signature}`;
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP server on loopback

export interface CountingServer {
  readonly url: string;
  /** Requests seen per path. */
  hits(path: string): number;
  /** Serves `body` as JSON at `path` (status 200 unless given). */
  route(path: string, body: unknown, status?: number): void;
  close(): Promise<void>;
}

/** A JSON server on a free 127.0.0.1 port that counts the requests it gets, per path. */
export async function startCountingServer(): Promise<CountingServer> {
  const routes = new Map<string, { body: unknown; status: number }>();
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const route = routes.get(path);
    res.writeHead(route?.status ?? 404, { "content-type": "application/json" });
    res.end(JSON.stringify(route?.body ?? { error: "not_found" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (path) => counts.get(path) ?? 0,
    route(path, body, status = 200) {
      routes.set(path, { body, status });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
