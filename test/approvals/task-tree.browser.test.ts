/**
 * Issue 8, the delegation tree on the approval page, in headless Chromium (playwright-core):
 * a real `baton serve` (spawned CLI, SQLite and the audit file in a temp dir, the demo
 * policies). The orchestrator opens a task for alice whose ceiling holds the elevated
 * `flights.book`; alice signs in, follows the card's link to the task's tree, approves the
 * ceiling; the orchestrator delegates to flight-booker, which takes flight tokens and revokes
 * one. The page then draws every token as a box under its agent, the revoked one greyed, with
 * no script and every text escaped. Someone with no part in the task sees a 404.
 *
 * The screenshot is `docs/task-tree.png` (the README shows it) only with BATON_SCREENSHOT=1
 * (or UPDATE_SCREENSHOTS=1), so a test run leaves the work tree as it was.
 *
 * Skipped (with a message) only when /usr/bin/chromium is missing; CI installs it.
 */

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/broker.js";
import {
  HAVE_CHROMIUM,
  launchChromium,
  signIn as signInAs,
  warnIfNoChromium,
} from "../helpers/browser.js";
import { Children, ROOT, runBaton, startServe, storeFlags } from "../helpers/cli-process.js";
import { ALICE, BOB } from "../helpers/mcp.js";
import { growStory, openTask, type Story } from "../helpers/task-story.js";

warnIfNoChromium("task-tree.browser.test.ts");

const SCREENSHOT =
  process.env.BATON_SCREENSHOT || process.env.UPDATE_SCREENSHOTS
    ? join(ROOT, "docs/task-tree.png")
    : join(tmpdir(), `baton-task-tree-${process.pid}.png`);
const PURPOSE = "Book Alice's flight to Berlin for the 3 December offsite";

const children = new Children();
let dir: string;
let url: string;
let browser: Browser | undefined;
let context: BrowserContext | undefined;

const shared = () => storeFlags(dir, { issuer: url });

/** A browser page signed in as `person` (the one-time link of `baton approvals login`). */
const signIn = (ctx: BrowserContext, person: string): Promise<Page> =>
  signInAs(children, ctx, person, shared());

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  dir = await children.tempDir("baton-tree-");
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  await startServe(children, { port, args: shared() });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1180, height: 800 } });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await children.cleanup();
});

describe.skipIf(!HAVE_CHROMIUM)("issue 8: the delegation tree on the approval page", () => {
  let subject: string;
  let taskId: string;
  let approvalId: string;
  let story: Story;
  let page: Page;
  const treeUrl = () => `${url}/approvals/tasks/${taskId}`;

  it("a task whose ceiling holds flights.book waits for alice", async () => {
    subject = (await runBaton(children, ["dev-token", "--user", ALICE, ...shared()])).trim();
    const task = await openTask(url, subject, PURPOSE, "calendar.read flights.search flights.book");
    expect(task.status).toBe("approval_required");
    taskId = task.task_id;
    approvalId = task.approval_id as string;
  });

  it("the pending card links to the task's tree; before any token, the tree is the task alone", async () => {
    page = await signIn(context as BrowserContext, ALICE);
    const card = page.locator(`section[id="${approvalId}"]`);
    await card.getByRole("link", { name: "delegation tree" }).click();
    await page.waitForLoadState();
    expect(page.url()).toBe(treeUrl());
    const svg = page.locator("main svg.task-tree");
    expect(await svg.count()).toBe(1);
    expect(await svg.locator("g.task").textContent()).toContain("Book Alice's flight");
    expect(await svg.locator("g.token").count()).toBe(0);
    expect(await svg.textContent()).toContain("no tokens yet");
  });

  it("someone with no part in the task gets the same 404 as for an unknown one", async () => {
    const other = await (browser as Browser).newContext();
    try {
      const bob = await signIn(other, BOB);
      const res = await bob.goto(treeUrl());
      expect(res?.status()).toBe(404);
      expect(await bob.locator("main").textContent()).toContain("No such task for you.");
      expect(await bob.locator("svg").count()).toBe(0);
      const unknown = await bob.goto(`${url}/approvals/tasks/tsk_AAAAAAAAAAAAAAAAAAAAAA`);
      expect(unknown?.status()).toBe(404);
    } finally {
      await other.close();
    }
  });

  it("alice approves the ceiling; the agents grow the tree, flight-booker revokes one token", async () => {
    await page.goto(`${url}/approvals`);
    const card = page.locator(`section[id="${approvalId}"]`);
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/approvals/${approvalId}/decide`)),
      card.getByRole("button", { name: "Approve" }).click(),
    ]);
    story = await growStory(url, subject, taskId, "flights.book");
  });

  it("draws agents and tokens as boxes with scopes, the revoked token greyed", async () => {
    // The served broker appends to its audit file; the page reads what has landed.
    await expect
      .poll(
        async () => {
          await page.goto(treeUrl());
          return page.locator("svg.task-tree g.token").count();
        },
        { timeout: 10_000 },
      )
      .toBe(5);
    const res = await page.goto(treeUrl());
    // The page's CSP is unchanged, and still allows no script: the SVG is inline markup.
    expect(res?.headers()["content-security-policy"]).toContain("default-src 'none'");
    expect(await page.locator("script").count()).toBe(0);

    const svg = page.locator("svg.task-tree");
    const agents = await svg
      .locator("g.agent")
      .evaluateAll((gs) => gs.map((g) => g.getAttribute("data-agent")));
    expect(agents).toEqual(["orchestrator", "flight-booker"]);
    expect(await svg.locator("text.agent-name").allTextContents()).toEqual([
      "orchestrator",
      "flight-booker",
    ]);

    const token = (jti: string) => svg.locator(`g.token[data-jti="${jti}"]`);
    const scopes = async (jti: string) => token(jti).locator("text.scope").allTextContents();
    expect(await scopes(story.calendar)).toEqual(["calendar.read"]);
    expect(await scopes(story.toBooker)).toEqual(["flights.search", "flights.book"]);
    expect(await scopes(story.booking)).toEqual(["flights.book"]);
    expect(await token(story.toBooker).locator("text.audience").textContent()).toBe(
      "→ flight-booker",
    );
    expect(await token(story.search).getAttribute("data-agent")).toBe("flight-booker");

    // Greyed: the revoked token's class and fill; the live ones are white, with an expiry.
    const revoked = token(story.revoked);
    expect(await revoked.getAttribute("class")).toBe("token access revoked");
    expect(await revoked.locator("rect.card").getAttribute("fill")).toBe("#eceef2");
    expect(await revoked.locator("text.status").textContent()).toMatch(
      /^revoked \d\d:\d\d:\d\d UTC$/,
    );
    for (const jti of [story.calendar, story.toBooker, story.search, story.booking]) {
      expect(await token(jti).getAttribute("class")).toMatch(/ active$/);
      expect(await token(jti).locator("rect.card").getAttribute("fill")).toBe("#ffffff");
      expect(await token(jti).locator("text.status").textContent()).toMatch(
        /^active · until \d\d:\d\d:\d\d UTC$/,
      );
    }
    // Delegation edges: task → orchestrator, delegation token → flight-booker.
    expect(await svg.locator("path.edge").count()).toBe(2);
    expect(await svg.locator("g.task").textContent()).toContain("5 of 1000 tokens used");

    await mkdir(join(ROOT, "docs"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it("a purpose full of markup is drawn as text, never rendered", async () => {
    const hostile = `<b>x</b></text><script>alert(1)</script><text>"&'`;
    const task = await openTask(url, subject, hostile, "calendar.read");
    await page.goto(`${url}/approvals/tasks/${task.task_id}`);
    expect(await page.locator("main svg b, main script, main svg script").count()).toBe(0);
    expect((await page.locator("svg g.task title").textContent()) ?? "").toContain(hostile);
  });
});
