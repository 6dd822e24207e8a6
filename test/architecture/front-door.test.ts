/**
 * Design §5, issue 15: the core has one front door. The doors (`http/`, `mcp/`, `cli/`) reach
 * the exchange core through `exchange/broker.ts` alone. The few modules still reached around it
 * are listed here by name, each with where it is going: the list may only shrink.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../../src");
const DOORS = ["http", "mcp", "cli"];

/** Reached around the front door today, and why; each goes with issue 15 item 2. */
const NOT_YET_BEHIND_THE_DOOR: Readonly<Record<string, string>> = {
  "exchange/request.ts": "form and field parsing: door work, moving into the doors",
  "exchange/approver-session.ts": "the approval page's browser sessions: moving into its folder",
  "exchange/operations/decide-approval.ts":
    "the page's and the CLI's decisions: becoming Broker.decideApproval",
  "exchange/operations/explain-grant.ts":
    "`baton policy explain`: its text moves to cli/, its replay behind the door",
  "exchange/types.ts":
    "ExchangeDeps for the approval page and the CLI desk, until they use the Broker",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[\s\S]*?\s+from\s+)?["']([^"']+)["']/gm;

/** Every import of a door file into exchange/, as `door file → exchange file`. */
const coreImports = DOORS.flatMap((door) => sourceFiles(join(SRC, door))).flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(IMPORT)]
    .map((m) => m[1] as string)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => relative(SRC, join(file, "..", spec)).replace(/\.js$/, ".ts"))
    .filter((target) => target.startsWith("exchange/"))
    .map((target) => ({ from: relative(SRC, file), target })),
);

describe("design §5: one front door to the core", () => {
  it("reads the imports it checks", () => {
    expect(coreImports).toContainEqual({
      from: "http/token-endpoint.ts",
      target: "exchange/broker.ts",
    });
    expect(coreImports).toContainEqual({
      from: "mcp/core-backend.ts",
      target: "exchange/broker.ts",
    });
  });

  it("the doors import the core's front door, and only the listed modules besides", () => {
    const around = coreImports
      .filter((i) => i.target !== "exchange/broker.ts")
      .filter((i) => !Object.hasOwn(NOT_YET_BEHIND_THE_DOOR, i.target))
      .map((i) => `${i.from} → ${i.target}`);
    expect(around).toEqual([]);
  });

  it("the OAuth endpoints and the MCP tools reach the core through the front door alone", () => {
    const operations = coreImports.filter(
      (i) =>
        (/^http\/.*(endpoint|token-form|readiness|metadata|app)\.ts$/.test(i.from) ||
          i.from.startsWith("mcp/")) &&
        i.target !== "exchange/broker.ts" &&
        i.target !== "exchange/request.ts",
    );
    expect(operations.map((i) => `${i.from} → ${i.target}`)).toEqual([]);
  });

  it("every module listed as not yet behind the door is still imported (the list only shrinks)", () => {
    const targets = new Set(coreImports.map((i) => i.target));
    const stale = Object.keys(NOT_YET_BEHIND_THE_DOOR).filter((t) => !targets.has(t));
    expect(stale).toEqual([]);
  });
});
