/**
 * Headless Chromium for the approval page's browser tests: Debian's `chromium` driven by
 * playwright-core (design §8). Tests skip, with a message, only when it is not installed;
 * `.ci/run` installs it.
 */

import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { type Children, runBaton } from "./cli-process.js";

export const CHROMIUM = "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** Says, once per test file, that the file's browser tests are skipped and why. */
export function warnIfNoChromium(file: string): void {
  if (!HAVE_CHROMIUM) {
    console.warn(`${file}: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium).`);
  }
}

/** A headless Chromium with nothing of its own on the network (no updates, sync or QUIC). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/**
 * A browser page signed in as `person` with a one-time link of `baton approvals login`, run
 * with `flags` (the served broker's store, policies and issuer).
 */
export async function signIn(
  children: Children,
  ctx: BrowserContext,
  person: string,
  flags: readonly string[],
): Promise<Page> {
  const out = await runBaton(children, ["approvals", "login", "--as", person, ...flags]);
  const page = await ctx.newPage();
  await page.goto(out.trim().split("\n").at(-1) ?? "");
  expect(new URL(page.url()).pathname).toBe("/approvals");
  return page;
}
