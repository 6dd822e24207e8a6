/**
 * Design §5, issue 15: the core has one front door. The doors (`http/`, `mcp/`, `cli/`) reach
 * the exchange core through `exchange/broker.ts` alone: door work (forms, browser sessions,
 * CLI text) lives in its door, and whatever a door needs of the core is a method or an export
 * of the front door.
 */

import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { SRC, sourceFiles } from "./source-files.js";

const DOORS = ["http", "mcp", "cli"];

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
      from: "mcp/embedded-session.ts",
      target: "exchange/broker.ts",
    });
  });

  it("the doors import nothing of the core but its front door", () => {
    const around = coreImports
      .filter((i) => i.target !== "exchange/broker.ts")
      .map((i) => `${i.from} → ${i.target}`);
    expect(around).toEqual([]);
  });
});
