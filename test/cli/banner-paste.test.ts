/**
 * Issue 17: the `baton serve` banner's try-it block works as printed, on a port that is not the
 * default. A real `serve` on a random free port, the demo policies copied to a temp dir and a
 * temp SQLite store; the block is taken from its stdout exactly as printed and run by bash from
 * the project root (so `npx baton` is this package), as a newcomer pasting it would.
 */

import { execFile } from "node:child_process";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Children,
  cliEnv,
  ROOT,
  type Served,
  startServe,
  TEST_POLICIES,
} from "../helpers/cli-process.js";

const run = promisify(execFile);
const children = new Children();
let served: Served;

beforeAll(async () => {
  const dir = await children.tempDir("baton-paste-");
  const policies = join(dir, "policies");
  await cp(TEST_POLICIES, policies, { recursive: true, filter: (p) => !p.endsWith(".md") });
  served = await startServe(children, {
    args: [
      "--policies",
      policies,
      "--store",
      `sqlite://${dir}/b.db`,
      "--audit",
      join(dir, "a.jsonl"),
    ],
  });
}, 60_000);

afterAll(() => children.cleanup());

/** The lines between "Try an exchange" and the line after the block, as printed. */
function tryItBlock(banner: string): string {
  const lines = banner.split("\n");
  const start = lines.findIndex((l) => l.startsWith("Try an exchange"));
  const end = lines.findIndex((l, i) => i > start && l.startsWith("Why a request"));
  expect(start, banner).toBeGreaterThan(0);
  expect(end, banner).toBeGreaterThan(start);
  return lines.slice(start + 1, end).join("\n");
}

describe("issue 17: the serve banner works as printed", () => {
  it("the try-it block, pasted into bash, gets an access token from this server", async () => {
    const block = tryItBlock(served.banner);
    expect(block).toContain(`--issuer ${served.url}`);
    const { stdout, stderr } = await run("bash", ["-c", block], {
      cwd: ROOT,
      // npx must not stop to ask before running; no BATON_* of the parent configures it.
      env: cliEnv({ npm_config_yes: "true" }),
      timeout: 60_000,
    });
    const body = JSON.parse(stdout);
    expect(body, stderr).toMatchObject({
      token_type: "Bearer",
      issued_token_type: expect.any(String),
    });
    expect(body.access_token).toMatch(/^eyJ/);
  }, 90_000);

  it("prints the /mcp, /approvals and metadata URLs, and where refusals are explained", () => {
    expect(served.banner).toContain(`${served.url}/mcp`);
    expect(served.banner).toContain(`${served.url}/approvals`);
    expect(served.banner).toContain(`${served.url}/.well-known/oauth-authorization-server`);
    expect(served.banner).toMatch(/npx baton audit --denied --audit \/\S+a\.jsonl/);
    // Rule 9: the only secret shown is the published demo one, marked as such.
    expect(served.banner).toContain("orchestrator-secret is the demo secret published");
    expect(served.banner).not.toMatch(/eyJ[\w-]+\./);
  });
});
