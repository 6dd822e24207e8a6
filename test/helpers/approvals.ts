/**
 * Helpers of the approval tests (issue 5): opening an approval over `POST /token`, signing in
 * to the approval page as a person (one-time link), deciding there with exact headers, reading
 * a record's state straight from the store, and a loopback server that collects webhook posts.
 *
 * Node's fetch never sends a `__Host-` cookie by itself, and the page's cookie is `Secure`: over
 * plain http on loopback the tests carry it by hand in the `cookie` header.
 */

import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import { type ApprovalState, readApproval, stateOf } from "../../src/approvals/approval-store.js";
import { createLoginLink } from "../../src/http/approvals/approver-session.js";
import {
  exchange,
  expectRefused,
  type Form,
  type OAuthErrorBody,
  type RawResponse,
  rawPost,
} from "./assertions.js";
import type { TestBroker } from "./broker.js";

export const ALICE = "alice@example.com";
export const BOB = "bob@example.com";
/** The one member of the `approvers` group that `withApproverGroup` adds. */
export const CAROL = "carol@example.com";

/**
 * Policy edit: a `payments` API whose `payments.charge` is approved by the `approvers` group
 * (only carol), held by the orchestrator.
 */
export function withApproverGroup(data: Record<string, any>): void {
  data.apis.payments = {
    resource: "https://payments.example.com",
    description: "Company card payments",
    scopes: {
      "payments.read": "Read charges",
      "payments.charge": { description: "Charge the company card", approval: "approvers" },
    },
  };
  data.agents.orchestrator.scopes.push("payments.read", "payments.charge");
  data.approvers = { approvers: [CAROL] };
}

// ---------------------------------------------------------------------------------------------
// The agent's side

/** An access token request for one API (by id), plus any extra fields. */
export const accessRequest = (
  subjectToken: string,
  api: string,
  scope: string,
  extra: Form = {},
): Form => ({ subject_token: subjectToken, audience: api, scope, ...extra });

export interface Pending extends OAuthErrorBody {
  readonly approval_id: string;
  readonly approval_uri: string;
  readonly interval: number;
}

/** Asserts `400 authorization_pending` (nothing issued) with a well-formed approval. */
export async function expectPending(
  broker: TestBroker,
  response: Promise<Response> | Response,
): Promise<Pending> {
  const { body } = await expectRefused(broker, response, 400, "authorization_pending");
  const pending = body as Pending;
  // 128 random bits, base64url: 22 characters.
  expect(pending.approval_id).toMatch(/^apr_[A-Za-z0-9_-]{22}$/);
  expect(pending.approval_uri).toBe(`${broker.issuer}/approvals/${pending.approval_id}`);
  expect(pending.interval).toBe(5);
  return pending;
}

/** `POST /token` as `agent` that must open (or report) an approval. */
export function requestApproval(broker: TestBroker, agent: string, form: Form): Promise<Pending> {
  return expectPending(broker, exchange(broker, form, agent));
}

/** The record's state as of the broker's clock, or undefined when it is not in the store. */
export async function approvalState(
  broker: TestBroker,
  id: string,
): Promise<ApprovalState | undefined> {
  const record = await readApproval(broker.store, id);
  return record && stateOf(record, broker.clock.now());
}

// ---------------------------------------------------------------------------------------------
// The approver's side

export interface PageSession {
  readonly person: string;
  /** The `cookie` request header: `__Host-baton-approver=…`. */
  readonly cookie: string;
  /** The raw `Set-Cookie` header the login sent. */
  readonly setCookie: string;
  /** The CSRF token from the page's hidden field. */
  readonly csrf: string;
}

export interface Page {
  readonly status: number;
  readonly headers: Headers;
  readonly html: string;
}

/** GET a page of the broker, with the session's cookie when given; redirects are not followed. */
export async function getPage(
  broker: TestBroker,
  path: string,
  session?: Pick<PageSession, "cookie">,
): Promise<Page> {
  const res = await fetch(`${broker.url}${path}`, {
    redirect: "manual",
    headers: session ? { cookie: session.cookie } : {},
  });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

/** The CSRF token of a signed-in page (its hidden `csrf` fields). */
export function csrfOf(html: string): string | undefined {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1];
}

/** A one-time login link for `person`, as `baton approvals login --as` prints it. */
export async function loginLink(broker: TestBroker, person: string): Promise<string> {
  return (await createLoginLink(broker.deps, person)).url;
}

/** Follows a login link by hand: the 303 and the `Set-Cookie` it sends (if any). */
export async function followLogin(
  link: string,
): Promise<{ res: Response; setCookie: string | undefined }> {
  const res = await fetch(link, { redirect: "manual" });
  return { res, setCookie: res.headers.getSetCookie()[0] };
}

/** Signs `person` in with a fresh one-time link; the cookie and the page's CSRF token. */
export async function signIn(broker: TestBroker, person: string): Promise<PageSession> {
  const { res, setCookie } = await followLogin(await loginLink(broker, person));
  expect(res.status).toBe(303);
  expect(setCookie).toBeDefined();
  const cookie = (setCookie as string).split(";")[0] as string;
  const page = await getPage(broker, "/approvals", { cookie });
  expect(page.status).toBe(200);
  const csrf = csrfOf(page.html);
  expect(csrf, "a signed-in page carries its CSRF token").toBeDefined();
  return { person, cookie, setCookie: setCookie as string, csrf: csrf as string };
}

export interface PostOptions {
  /** The `Origin` header; the issuer unless given, omitted when null. */
  readonly origin?: string | null;
  /** The `csrf` field; the session's unless given, omitted when null. */
  readonly csrf?: string | null;
  /** The `cookie` header; the session's unless given, omitted when null. */
  readonly cookie?: string | null;
}

/**
 * POSTs a form to the approval page with exactly these headers (node:http, so no header is
 * added or dropped on the way): the session's cookie, an `Origin`, and its `csrf` field.
 */
export function postPage(
  broker: TestBroker,
  path: string,
  session: PageSession | undefined,
  form: Record<string, string> = {},
  options: PostOptions = {},
): Promise<RawResponse> {
  const origin = options.origin === undefined ? broker.issuer : options.origin;
  const csrf = options.csrf === undefined ? session?.csrf : options.csrf;
  const cookie = options.cookie === undefined ? session?.cookie : options.cookie;
  const fields = new URLSearchParams(form);
  if (csrf !== undefined && csrf !== null) fields.set("csrf", csrf);
  const body = Buffer.from(fields.toString());
  const headers: Record<string, string | number> = {
    "content-type": "application/x-www-form-urlencoded",
    "content-length": body.length,
  };
  if (origin !== null) headers.origin = origin;
  if (cookie !== undefined && cookie !== null) headers.cookie = cookie;
  return rawPost(broker.url, path, headers, body);
}

/** Approve or deny on the page: `POST /approvals/{id}/decide`. */
export function decide(
  broker: TestBroker,
  session: PageSession | undefined,
  id: string,
  decision: "approve" | "deny",
  options: PostOptions = {},
): Promise<RawResponse> {
  return postPage(broker, `/approvals/${id}/decide`, session, { decision }, options);
}

/** Signs `person` in and decides on the page; asserts the 200 "You approved/denied" answer. */
export async function decideAs(
  broker: TestBroker,
  person: string,
  id: string,
  decision: "approve" | "deny",
): Promise<void> {
  const res = await decide(broker, await signIn(broker, person), id, decision);
  expect(res.status, res.text).toBe(200);
  expect(res.text).toContain(`You ${decision === "approve" ? "approved" : "denied"} request`);
}

/** The `approval.decided` audit events of one approval. */
export function decisionsOf(broker: TestBroker, id: string) {
  return broker.events.filter((e) => e.type === "approval.decided" && e.approval === id);
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver on loopback

export interface Received {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface Collector {
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

/**
 * An HTTP server on a free 127.0.0.1 port that keeps every request it gets. With `hang`, it
 * never answers (a slow webhook).
 */
export async function startCollector(options: { hang?: boolean } = {}): Promise<Collector> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        path: req.url ?? "",
        method: req.method ?? "",
        headers: req.headers,
        text: Buffer.concat(chunks).toString("utf8"),
      });
      if (!options.hang) res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
