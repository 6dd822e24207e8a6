/**
 * Issue 5, "done when" (the browser test): a real `baton serve` (spawned CLI, SQLite in a temp
 * dir, the demo policies) holds an elevated grant for a human; the approver signs in with the
 * one-time link of `baton approvals login`, in headless Chromium driven by playwright-core,
 * sees the exact grant, approves it; the agent then gets its token once, and a second
 * redemption fails. Also: the session cookie's attributes, the anti-framing headers (and that
 * Chromium really refuses to frame the page), and that the agent's reason stays plain text.
 *
 * The screenshot this test takes is `docs/approval-page.png`, which the README shows. It is
 * rewritten only with UPDATE_SCREENSHOTS=1, so a test run leaves the work tree as it was.
 *
 * Skipped (with a message) only when /usr/bin/chromium is missing; CI installs it.
 */

import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from "../helpers/browser.js";
import { Children, ROOT, runBaton, startServe, storeFlags } from "../helpers/cli-process.js";
import { ALICE, DEMO_SECRETS, decode } from "../helpers/mcp.js";

warnIfNoChromium("approval-page.browser.test.ts");

const CALENDAR = "https://calendar.example.com";
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? join(ROOT, "docs/approval-page.png")
  : join(tmpdir(), `baton-approval-page-${process.pid}.png`);
/** What an agent would plausibly say; quotes, an ampersand and an arrow test the escaping. */
const REASON =
  'Alice asked me to put her Berlin trip in her calendar: "Flight LH 1234 → BER" on ' +
  "3 Dec at 09:40 & the hotel check-in at 15:00.";

const children = new Children();
let dir: string;
let url: string;
let browser: Browser | undefined;
let context: BrowserContext | undefined;

/** The same store, policies, audit log and issuer for every command. */
const shared = () => storeFlags(dir, { issuer: url });

/** POST /token as the orchestrator (client_secret_basic), the user's token as the subject. */
async function exchange(subject: string, extra: Record<string, string>) {
  const credentials = Buffer.from(`orchestrator:${DEMO_SECRETS.orchestrator}`).toString("base64");
  const res = await fetch(`${url}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${credentials}`,
    },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subject,
      subject_token_type: TOKEN_TYPE.jwt,
      resource: CALENDAR,
      scope: "calendar.write",
      ttl_seconds: "300",
      ...extra,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** A one-time sign-in link, printed by `baton approvals login --as NAME`. */
async function loginLink(person: string): Promise<string> {
  const out = await runBaton(children, ["approvals", "login", "--as", person, ...shared()]);
  const link = out.trim().split("\n").at(-1) ?? "";
  expect(link.startsWith(`${url}/approvals/login?token=`), out).toBe(true);
  return link;
}

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  dir = await children.tempDir();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // `baton serve` on `port`; resolves once its banner is printed.
  await startServe(children, { port, args: shared() });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await children.cleanup();
});

describe.skipIf(!HAVE_CHROMIUM)("issue 5: the approval page in Chromium", () => {
  let subject: string;
  let approvalId: string;
  let page: Page;

  it("the agent's elevated request waits for the user (authorization_pending)", async () => {
    subject = (await runBaton(children, ["dev-token", "--user", ALICE, ...shared()])).trim();
    const { status, body } = await exchange(subject, { reason: REASON });
    expect(status, JSON.stringify(body)).toBe(400);
    expect(body).toMatchObject({
      error: "authorization_pending",
      approval_id: expect.stringMatching(/^apr_/),
      interval: expect.any(Number),
    });
    expect(body).not.toHaveProperty("access_token");
    approvalId = body.approval_id;
    expect(body.approval_uri).toBe(`${url}/approvals/${approvalId}`);
  });

  it("the approver signs in with a one-time link: a __Host- cookie, Secure, HttpOnly, Strict", async () => {
    page = await (context as BrowserContext).newPage();
    const link = await loginLink(ALICE);
    const res = await page.goto(link);
    // The link redirected (303) to the list, signed in.
    expect(new URL(page.url()).pathname).toBe("/approvals");
    expect(res?.status()).toBe(200);

    const cookies = await (context as BrowserContext).cookies(url);
    expect(cookies, "Chromium kept no cookie").toHaveLength(1);
    const [cookie] = cookies;
    expect(cookie?.name.startsWith("__Host-")).toBe(true);
    expect(cookie).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: "Strict",
      path: "/",
      domain: "127.0.0.1", // host-only: a __Host- cookie carries no Domain attribute
    });
    // HttpOnly: the page's own script cannot read it.
    expect(await page.evaluate("document.cookie")).toBe("");

    // The page forbids framing, in both headers a browser honours.
    const headers = res?.headers() ?? {};
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["cache-control"]).toBe("no-store");

    // The link worked once: opened again, it signs nobody in.
    const reused = await fetch(link, { redirect: "manual" });
    expect(reused.status).toBe(400);
    expect(reused.headers.get("set-cookie")).toBeNull();
  });

  it("shows the pending grant exactly: scope and its description, chain, user, API, reason", async () => {
    const card = page.locator(`section[id="${approvalId}"]`);
    await expect.poll(() => card.count()).toBe(1);
    expect(await card.locator("h2").textContent()).toBe(`Request ${approvalId}`);
    // Each row of the grant, label and value, as the approver reads them.
    const labels = await card.locator("dt").allTextContents();
    const values = (await card.locator("dd").allTextContents()).map((v) =>
      v.replace(/\s+/g, " ").trim(),
    );
    expect(Object.fromEntries(labels.map((k, i) => [k, values[i]]))).toEqual({
      Agent: "orchestrator",
      "Delegated by": "nobody: the user's own agent", // the chain: the orchestrator alone
      "For user": ALICE,
      "Access to": `calendar ${CALENDAR}`,
      Scopes: "calendar.write Create, move and delete events",
      Lifetime: "at most 300 seconds",
      Task: "none",
      Expires: "in 10 min",
    });
    expect(await card.locator("ul.scopes li").allTextContents()).toEqual([
      "calendar.write Create, move and delete events",
    ]);
    // The reason, as plain text: exactly the agent's words, no markup made of them.
    const reason = card.locator("p.reason");
    expect(await reason.textContent()).toBe(REASON);
    expect(await reason.locator("*").count()).toBe(0);
    // Only this one request is waiting, and both buttons are there.
    expect(await page.locator("section.card").count()).toBe(1);
    await expect.poll(() => card.getByRole("button", { name: "Approve" }).count()).toBe(1);
    await expect.poll(() => card.getByRole("button", { name: "Deny" }).count()).toBe(1);

    await mkdir(join(ROOT, "docs"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it("a browser refuses to show the page inside a frame of another site", async () => {
    const framer = await (context as BrowserContext).newPage();
    // A page of another origin that frames the approval page (served by a route, not the net).
    await framer.route("http://framer.test/", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><iframe src="${url}/approvals" width="800" height="600"></iframe>`,
      }),
    );
    await framer.goto("http://framer.test/");
    const child = () => framer.frames().find((f) => f !== framer.mainFrame());
    // Chromium blocks the response (frame-ancestors 'none') and shows its own error page.
    await expect
      .poll(() => child()?.url() ?? "", { timeout: 10_000 })
      .toMatch(/^chrome-error:\/\//);
    const content =
      (await child()
        ?.content()
        .catch(() => "")) ?? "";
    expect(content).not.toContain("Baton approvals");
    expect(content).not.toContain(approvalId);
    await framer.close();
  });

  it("approving in the page confirms, and records the approver", async () => {
    const card = page.locator(`section[id="${approvalId}"]`);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/approvals/${approvalId}/decide`)),
      card.getByRole("button", { name: "Approve" }).click(),
    ]);
    expect(res.status()).toBe(200);
    await page.waitForLoadState();
    const notice = (await page.locator("p.notice").textContent())?.replace(/\s+/g, " ");
    expect(notice).toBe(`You approved request ${approvalId}.`);
    const decided = await page.locator(`section[id="${approvalId}"] p strong`).textContent();
    expect(decided).toBe("approved");
    expect(await page.locator(`section[id="${approvalId}"]`).textContent()).toContain(
      `approved by ${ALICE}`,
    );
    expect(await page.getByRole("button", { name: "Approve" }).count()).toBe(0);

    // The audit log names the approver and the door.
    await expect
      .poll(async () =>
        (await readFile(join(dir, "audit.jsonl"), "utf8").catch(() => "")).split("\n"),
      )
      .toContainEqual(expect.stringContaining(`"approval":"${approvalId}"`));
    const decidedEvent = (await readFile(join(dir, "audit.jsonl"), "utf8"))
      .split("\n")
      .filter((l) => l.includes('"approval.decided"'))
      .map((l) => JSON.parse(l));
    expect(decidedEvent).toEqual([
      expect.objectContaining({
        approval: approvalId,
        decision: "approved",
        by: ALICE,
        via: "web",
      }),
    ]);

    // The list has nothing more for alice.
    await page.goto(`${url}/approvals`);
    expect(await page.locator("main").textContent()).toContain("Nothing is waiting for you.");
  });

  it("the agent redeems the approval once: a calendar.write token acting as the orchestrator", async () => {
    // Bound to the exact request: a longer lifetime is not what alice approved (and uses nothing).
    const changed = await exchange(subject, { approval_id: approvalId, ttl_seconds: "600" });
    expect(changed.status).toBe(400);
    expect(changed.body.error).toBe("invalid_request");

    const { status, body } = await exchange(subject, { reason: REASON, approval_id: approvalId });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      issued_token_type: TOKEN_TYPE.accessToken,
      token_type: "Bearer",
      scope: "calendar.write",
    });
    const claims = decode(body.access_token);
    expect(claims).toMatchObject({
      iss: url,
      sub: ALICE,
      aud: CALENDAR,
      scope: "calendar.write",
      act: { sub: "orchestrator" },
    });
    expect((claims.act as Record<string, unknown>).act).toBeUndefined();
    expect(body.expires_in).toBeLessThanOrEqual(300);
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);

    const again = await exchange(subject, { reason: REASON, approval_id: approvalId });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe("invalid_request");
    expect(again.body).not.toHaveProperty("access_token");
  });

  it("a reason full of markup is shown as text, never rendered", async () => {
    const hostile = `<img src=x onerror="document.title='pwned'"><b>approve me</b></p><script>alert(1)</script>`;
    const { status, body } = await exchange(subject, { reason: hostile });
    expect(status).toBe(400);
    expect(body.error).toBe("authorization_pending");
    await page.goto(`${url}/approvals/${body.approval_id}`);
    const reason = page.locator("p.reason");
    expect(await reason.textContent()).toBe(hostile);
    expect(await page.locator("main img, main b, main script").count()).toBe(0);
    expect(await page.title()).not.toBe("pwned");
  });
});
