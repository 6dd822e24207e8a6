/**
 * URL-mode elicitation (MCP 2025-11-25, design §3.5): an SDK client that declares only the URL
 * mode is sent to the approval page of a real `baton serve` (spawned CLI, SQLite, the demo
 * policies). Alice signs in there (headless Chromium, the one-time link of `baton approvals
 * login`) and decides; the client is then told with `notifications/elicitation/complete`, whose
 * elicitation id is the approval id, and the agent redeems the approval once. A client that
 * holds its answer until the page is done gets the token in the same call. Someone else who
 * opens the link cannot decide it; a client that declines leaves the approval pending. The same
 * through `baton mcp --broker` on stdio, where only the page can decide (no form mode).
 *
 * Skipped (with a message) only when /usr/bin/chromium is missing; CI installs it.
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Client as SdkClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  type ElicitRequestURLParams,
  type ElicitResult,
} from "@modelcontextprotocol/sdk/types.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, TOKEN_TYPE } from "../helpers/broker.js";
import {
  HAVE_CHROMIUM,
  launchChromium,
  signIn as signInAs,
  warnIfNoChromium,
} from "../helpers/browser.js";
import { Children, runBaton, startServe, storeFlags } from "../helpers/cli-process.js";
import {
  ALICE,
  BOB,
  callOk,
  callRefused,
  callTool,
  connectStdio,
  DEMO_SECRETS,
  decode,
} from "../helpers/mcp.js";
import { until } from "../helpers/nodes.js";

warnIfNoChromium("elicitation-url.browser.test.ts");

const WRITE = { api: "calendar", scopes: ["calendar.write"] };
const CALENDAR = "https://calendar.example.com";

const children = new Children();
const clients: Client[] = [];
let dir: string;
let url: string;
let browser: Browser | undefined;
let alice: Page;

const shared = () => storeFlags(dir, { issuer: url });

/** A client that declares URL-mode elicitation only, and what it saw. */
interface UrlClient {
  readonly client: Client;
  /** Every URL elicitation the server sent, in order. */
  readonly asked: ElicitRequestURLParams[];
  /** The elicitation ids of every `notifications/elicitation/complete`, in order. */
  readonly completed: string[];
  /** How the client answers the next elicitation (after `before`, if set). */
  answer: ElicitResult["action"];
  /** Runs before the client answers: a client that waits for the page to be done. */
  before?: (params: ElicitRequestURLParams) => Promise<void>;
}

function urlCapableClient(): { client: Client; state: Omit<UrlClient, "client"> } {
  const client = new SdkClient(
    { name: "baton-test-url-elicit", version: "0.0.0" },
    { capabilities: { elicitation: { url: {} } } },
  );
  const state: Omit<UrlClient, "client"> = { asked: [], completed: [], answer: "accept" };
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    const params = request.params as ElicitRequestURLParams;
    state.asked.push(params);
    await state.before?.(params);
    return { action: state.answer };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
    state.completed.push(n.params.elicitationId);
  });
  clients.push(client);
  return { client, state };
}

/** Alice's orchestrator session on the served broker's `/mcp`. */
async function httpClient(): Promise<UrlClient> {
  const { client, state } = urlCapableClient();
  const bearer = await devToken("--agent", "orchestrator");
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    }),
  );
  return Object.assign(state, { client });
}

async function devToken(...args: string[]): Promise<string> {
  return (await runBaton(children, ["dev-token", "--user", ALICE, ...args, ...shared()])).trim();
}

/** A browser page signed in as `person` (the one-time link of `baton approvals login`). */
const signIn = (ctx: BrowserContext, person: string): Promise<Page> =>
  signInAs(children, ctx, person, shared());

/** The human follows the link the client was given, and decides there. */
async function decideOnPage(page: Page, link: string, button: "Approve" | "Deny") {
  const res = await page.goto(link);
  expect(res?.status()).toBe(200);
  const id = new URL(link).pathname.split("/").at(-1) as string;
  const card = page.locator(`section[id="${id}"]`);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/approvals/${id}/decide`)),
    card.getByRole("button", { name: button }).click(),
  ]);
  expect(await page.locator("p.notice").textContent()).toContain(
    button === "Approve" ? "You approved" : "You denied",
  );
}

const completion = (c: UrlClient, id: string) =>
  until(`notifications/elicitation/complete for ${id}`, () =>
    c.completed.includes(id) ? true : undefined,
  );

/** The calendar.write token: for alice, on the calendar, the orchestrator acting. */
function expectWriteToken(out: Record<string, any>, issuer: string): void {
  expect(out).toMatchObject({
    token_type: "Bearer",
    scope: "calendar.write",
    audience: "calendar",
    issued_token_type: TOKEN_TYPE.accessToken,
  });
  expect(decode(out.access_token)).toMatchObject({
    iss: issuer,
    sub: ALICE,
    aud: CALENDAR,
    scope: "calendar.write",
    act: { sub: "orchestrator" },
  });
}

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  dir = await children.tempDir("baton-url-elicit-");
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  await startServe(children, { port, args: shared() });
  browser = await launchChromium();
  alice = await signIn(await browser.newContext(), ALICE);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await browser?.close();
  await children.cleanup();
});

describe.skipIf(!HAVE_CHROMIUM)("URL-mode elicitation: the human decides on the page", () => {
  it("request_token sends the client to the approval page; nothing is issued until alice decides there", async () => {
    const c = await httpClient();
    const out = await callOk(c.client, "request_token", WRITE);
    expect(out).toMatchObject({ status: "approval_required", approval_id: expect.any(String) });
    expect(out).not.toHaveProperty("access_token");
    const id = out.approval_id as string;

    expect(c.asked).toHaveLength(1);
    const asked = c.asked[0] as ElicitRequestURLParams;
    expect(asked).toMatchObject({ mode: "url", elicitationId: id, url: out.approve_url });
    // MCP 2025-11-25: the URL names the request only; no personal data, and it signs no one in.
    expect(asked.url).toBe(`${url}/approvals/${id}`);
    expect(asked.message).toContain("calendar.write");
    expect(asked.message).not.toContain(ALICE);
    expect((await callOk(c.client, "approval_status", { approval_id: id })).status).toBe("pending");

    await decideOnPage(alice, asked.url, "Approve");
    await completion(c, id);
    const token = await callOk(c.client, "request_token", { ...WRITE, approval_id: id });
    expectWriteToken(token, url);
    // Single use (rule 6): the same approval never yields a second token.
    const again = await callRefused(
      c.client,
      "request_token",
      { ...WRITE, approval_id: id },
      "invalid_request",
    );
    expect(again).not.toHaveProperty("access_token");
    expect(c.completed.filter((e) => e === id)).toHaveLength(1);
  });

  it("a denial on the page is told to the client too; redeeming it gives access_denied, no token", async () => {
    const c = await httpClient();
    const out = await callOk(c.client, "request_token", WRITE);
    const id = out.approval_id as string;
    await decideOnPage(alice, (c.asked[0] as ElicitRequestURLParams).url, "Deny");
    await completion(c, id);
    const refused = await callRefused(
      c.client,
      "request_token",
      { ...WRITE, approval_id: id },
      "access_denied",
    );
    expect(refused).not.toHaveProperty("access_token");
  });

  it("a client that waits for the page gets the token in the same call", async () => {
    const c = await httpClient();
    c.before = async (params) => {
      await decideOnPage(alice, params.url, "Approve");
      await completion(c, params.elicitationId);
    };
    const token = await callOk(c.client, "request_token", WRITE);
    expectWriteToken(token, url);
    expect(c.completed).toEqual([(c.asked[0] as ElicitRequestURLParams).elicitationId]);
  });

  it("start_task: alice approves the ceiling on the page, and the task is active in the same call", async () => {
    const c = await httpClient();
    c.before = async (params) => {
      await decideOnPage(alice, params.url, "Approve");
      await completion(c, params.elicitationId);
    };
    const task = await callOk(c.client, "start_task", {
      purpose: "Book the Berlin trip",
      template: "book-trip",
    });
    expect(task.status).toBe("active");
    expect(c.asked).toHaveLength(1);
  });

  it("alice, signed out, follows the link: she signs in on the page and lands on the request", async () => {
    const c = await httpClient();
    const out = await callOk(c.client, "request_token", WRITE);
    const link = (c.asked[0] as ElicitRequestURLParams).url;
    const context = await (browser as Browser).newContext();
    try {
      const page = await context.newPage();
      await page.goto(link);
      expect(await page.locator("h2").first().textContent()).toContain("Sign in");
      const token = await devToken("--for", "approvals");
      await page.locator('input[name="token"]').fill(token);
      await Promise.all([
        page.waitForURL(link),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      await decideOnPage(page, link, "Approve");
    } finally {
      await context.close();
    }
    await completion(c, out.approval_id);
    expectWriteToken(
      await callOk(c.client, "request_token", { ...WRITE, approval_id: out.approval_id }),
      url,
    );
  });

  it("someone else who opens the link cannot decide it: 404, still pending, the client not told", async () => {
    const c = await httpClient();
    const out = await callOk(c.client, "request_token", WRITE);
    const id = out.approval_id as string;
    const other = await (browser as Browser).newContext();
    try {
      const bob = await signIn(other, BOB);
      const res = await bob.goto((c.asked[0] as ElicitRequestURLParams).url);
      expect(res?.status()).toBe(404);
      expect(await bob.locator("button.approve").count()).toBe(0);
    } finally {
      await other.close();
    }
    expect((await callOk(c.client, "approval_status", { approval_id: id })).status).toBe("pending");
    expect(c.completed).not.toContain(id);
    // Asking again with the approval id is asking again: still no token.
    const again = await callTool(c.client, "request_token", { ...WRITE, approval_id: id });
    expect(again.out).toMatchObject({ status: "approval_required", approval_id: id });
    expect(again.out).not.toHaveProperty("access_token");
  });

  it("a client that declines to open the page: approval_required, pending, nothing issued", async () => {
    const c = await httpClient();
    c.answer = "decline";
    const out = await callOk(c.client, "request_token", WRITE);
    expect(out).toMatchObject({ status: "approval_required" });
    expect(out).not.toHaveProperty("access_token");
    expect(c.asked).toHaveLength(1);
    const status = await callOk(c.client, "approval_status", { approval_id: out.approval_id });
    expect(status.status).toBe("pending");
  });

  it("baton mcp --broker (stdio): the client is sent to the served broker's page and told over stdio", async () => {
    const { client, state } = urlCapableClient();
    const session = await connectStdio(
      children,
      ["--agent", "orchestrator", "--broker", url],
      {
        BATON_CLIENT_SECRET: DEMO_SECRETS.orchestrator as string,
        BATON_SUBJECT_TOKEN: await devToken("--agent", "orchestrator"),
      },
      client,
    );
    const c: UrlClient = Object.assign(state, { client });
    try {
      const out = await callOk(client, "request_token", WRITE);
      expect(out.status).toBe("approval_required");
      const asked = c.asked[0] as ElicitRequestURLParams;
      expect(asked).toMatchObject({ mode: "url", elicitationId: out.approval_id });
      expect(asked.url).toBe(`${url}/approvals/${out.approval_id}`);

      await decideOnPage(alice, asked.url, "Approve");
      await completion(c, out.approval_id);
      const token = await callOk(client, "request_token", {
        ...WRITE,
        approval_id: out.approval_id,
      });
      expectWriteToken(token, url);
    } finally {
      await session.close();
    }
  });
});
