/**
 * Issue 20 item 4: the newest MCP conformance suite (`@modelcontextprotocol/conformance` 0.1.16,
 * from the test workspace: it needs Node >= 22, where 0.1.13 in Baton's own install runs on 20)
 * with the same expectations as test/mcp/conformance.test.ts: one suite,
 * test/helpers/conformance-suite.ts. Skipped, with the reason, on Node 20 or without the
 * workspace installed.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { conformanceSuite } from "../helpers/conformance-suite.js";
import { skipping, WORKSPACE } from "./harness.js";

const VERSION = "0.1.16";
const SKIP = skipping(`MCP conformance ${VERSION}`);
const PACKAGE = join(WORKSPACE, "node_modules/@modelcontextprotocol/conformance");

describe.skipIf(SKIP)(`MCP conformance ${VERSION} from the workspace`, () => {
  it("is the version this file names", async () => {
    const manifest = JSON.parse(await readFile(join(PACKAGE, "package.json"), "utf8"));
    expect(manifest.version).toBe(VERSION);
  });
});

conformanceSuite({ version: VERSION, bin: join(PACKAGE, "dist/index.js"), skip: SKIP });
