/**
 * Approvers sign in to the approval page with an OpenID Provider (policy
 * `broker.approval_login`): a real `oidc-provider` as the identity provider (its development
 * login and consent pages), a real `baton serve` (spawned, SQLite, the demo policies plus
 * `approval_login`), headless Chromium as the person. The provider lives on `localhost` and
 * Baton on `127.0.0.1`: two sites, so the return from the provider is a cross-site navigation,
 * as in production, and the session cookie (SameSite=Strict) must still be there afterwards.
 *
 * Alice follows an approval link, signs in at the provider, lands back on the request and
 * approves it; the agent then gets its token. Refused: a callback not started in this browser,
 * a replayed callback, a person the provider signs in who may not decide (404), and a person
 * who cancels at the provider. No refusal opens a session.
 *
 * Skipped (with a message) only when /usr/bin/chromium is missing; CI installs it.
 */

import { randomBytes } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { Provider } from "oidc-provider";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { freePort } from "../helpers/broker.js";
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from "../helpers/browser.js";
import {
  Children,
  runBaton,
  type Served,
  startServe,
  storeFlags,
  TEST_POLICIES,
} from "../helpers/cli-process.js";
import { ALICE, BOB, decode } from "../helpers/mcp.js";
import { exchange, type Form } from "../helpers/nodes.js";

warnIfNoChromium("oidc-login.browser.test.ts");

const CLIENT_ID = "baton-approvals";
const CLIENT_SECRET = randomBytes(24).toString("base64url");
const WRITE: Form = { audience: "calendar", scope: "calendar.write" };

const children = new Children();
const idpServers: Server[] = [];
let dir: string;
let served: Served;
let idp: string;
let browser: Browser | undefined;

/** A real OpenID Provider on localhost, with one client: Baton's approval page. */
async function startProvider(redirectUri: string): Promise<string> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // The development login page: any login, which becomes the `sub`.
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
  });
  // localhost may resolve to either loopback address: answer on both, never beyond.
  for (const host of ["127.0.0.1", "::1"]) {
    const server = createServer(provider.callback());
    await new Promise<void>((resolve) => {
      server.once("error", () => resolve()); // no IPv6 here: 127.0.0.1 is enough
      server.listen(port, host, () => resolve());
    });
    if (server.listening) idpServers.push(server);
  }
  return issuer;
}

/** The demo policies, with `broker.approval_login` naming the provider. */
async function policiesWithLogin(issuer: string): Promise<string> {
  const policies = join(dir, "policies");
  await cp(TEST_POLICIES, policies, { recursive: true });
  const file = join(policies, "broker.yaml");
  const data = parse(await readFile(file, "utf8"));
  data.broker.approval_login = { issuer, client_id: CLIENT_ID };
  await writeFile(file, stringify(data));
  return policies;
}

const flags = () => storeFlags(dir, { issuer: served.url, policies: join(dir, "policies") });

/** An elevated request by the orchestrator for alice: the approval link it is given. */
async function pendingWrite(): Promise<{ id: string; uri: string; subject: string }> {
  const subject = (await runBaton(children, ["dev-token", "--user", ALICE, ...flags()])).trim();
  const res = await exchange(served.url, subject, WRITE);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe("authorization_pending");
  return { id: res.body.approval_id, uri: res.body.approval_uri, subject };
}

/** At the provider's development pages: sign in as `login`, then consent (or cancel). */
async function atProvider(page: Page, login: string, consent = true): Promise<void> {
  await page.waitForURL((u) => u.href.startsWith(idp));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.waitForURL((u) => u.href.startsWith(idp));
  if (consent) await page.getByRole("button", { name: "Continue" }).click();
  else await page.getByRole("link", { name: /Cancel/ }).click();
}

const sessionCookie = async (ctx: BrowserContext) =>
  (await ctx.cookies(served.url)).find((c) => c.name === "__Host-baton-approver");

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  dir = await children.tempDir("baton-oidc-login-");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  idp = await startProvider(`${url}/approvals/login/callback`);
  const policies = await policiesWithLogin(idp);
  served = await startServe(children, {
    port,
    args: storeFlags(dir, { issuer: url, policies }),
    env: { BATON_APPROVAL_LOGIN_SECRET: CLIENT_SECRET, BATON_WATCH: "0" },
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await children.cleanup();
  for (const server of idpServers) server.close();
});

describe.skipIf(!HAVE_CHROMIUM)("the approval page: sign-in with an OpenID Provider", () => {
  let replay: string | undefined;

  it("alice follows the link, signs in at the provider, lands on the request and approves it", async () => {
    const { id, uri, subject } = await pendingWrite();
    const ctx = await (browser as Browser).newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(uri);
      const button = page.getByRole("link", { name: `Sign in with ${new URL(idp).host}` });
      await button.click();
      page.on("request", (r) => {
        if (r.url().includes("/approvals/login/callback")) replay = r.url();
      });
      await atProvider(page, ALICE);
      // Back at Baton, past the provider's cross-site redirect, on the request itself.
      await page.waitForURL(uri);
      expect(await sessionCookie(ctx)).toMatchObject({ sameSite: "Strict", httpOnly: true });
      const card = page.locator(`section[id="${id}"]`);
      expect(await card.textContent()).toContain("calendar.write");
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/approvals/${id}/decide`)),
        card.getByRole("button", { name: "Approve" }).click(),
      ]);
      expect(await page.locator("p.notice").textContent()).toContain("You approved");
    } finally {
      await ctx.close();
    }
    const token = await exchange(served.url, subject, { ...WRITE, approval_id: id });
    expect(token.status, JSON.stringify(token.body)).toBe(200);
    expect(decode(token.body.access_token)).toMatchObject({
      sub: ALICE,
      scope: "calendar.write",
      act: { sub: "orchestrator" },
    });
  });

  it("a callback not started in this browser, or replayed, opens no session", async () => {
    expect(replay, "the first test saw the callback").toBeDefined();
    const ctx = await (browser as Browser).newContext();
    try {
      const page = await ctx.newPage();
      const again = await page.goto(replay as string);
      expect(again?.status()).toBe(400);
      expect(await page.locator("p.notice").textContent()).toContain(
        "That sign-in was not started in this browser.",
      );
      const forged = await page.goto(
        `${served.url}/approvals/login/callback?code=x&state=${"A".repeat(43)}`,
      );
      expect(forged?.status()).toBe(400);
      expect(await sessionCookie(ctx)).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });

  it("bob signs in at the provider: alice's request is not his to see (404)", async () => {
    const { uri } = await pendingWrite();
    const ctx = await (browser as Browser).newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(
        `${served.url}/approvals/login/oidc?next=${encodeURIComponent(new URL(uri).pathname)}`,
      );
      await atProvider(page, BOB);
      await page.waitForURL(uri);
      const res = await page.reload();
      expect(res?.status()).toBe(404);
      expect(await page.locator("button.approve").count()).toBe(0);
      expect(await page.locator("header").textContent()).toContain(BOB);
    } finally {
      await ctx.close();
    }
  });

  it("a person who cancels at the provider is back at the sign-in page, not signed in", async () => {
    const ctx = await (browser as Browser).newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${served.url}/approvals/login/oidc`);
      const back = page.waitForResponse((r) => r.url().includes("/approvals/login/callback"));
      await atProvider(page, ALICE, false);
      expect((await back).status()).toBe(400);
      expect(await page.locator("p.notice").textContent()).toContain(
        "The identity provider did not sign you in.",
      );
      expect(await sessionCookie(ctx)).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });
});
