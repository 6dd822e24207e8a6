/**
 * Design §5: layers point down only, and each third-party package lives in one place. This
 * test reads the import lines of every source file, so the rule cannot rot silently.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../../src");

interface Import {
  readonly from: string;
  readonly spec: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[\s\S]*?\s+from\s+)?["']([^"']+)["']/gm;

const imports: Import[] = sourceFiles(SRC).flatMap((file) => {
  const from = relative(SRC, file);
  return [...readFileSync(file, "utf8").matchAll(IMPORT)].map((m) => ({
    from,
    spec: (m[2] as string).startsWith(".")
      ? relative(SRC, join(file, "..", m[2] as string)).replace(/\.js$/, ".ts")
      : (m[2] as string),
    typeOnly: m[1] !== undefined,
  }));
});

/** Layer of a file under src/ (design §5): 0 leaves, 1 capabilities, 2 core, 3 edges, 4 root. */
function layer(file: string): number {
  if (file === "errors.ts" || file === "clock.ts") return 0;
  const top = file.split("/")[0] as string;
  if (["policy", "tokens", "store", "audit", "tasks", "approvals", "metrics"].includes(top))
    return 1;
  if (top === "exchange") return 2;
  if (["http", "mcp", "cli", "config.ts", "log.ts"].includes(top)) return 3;
  if (file === "main.ts") return 4;
  throw new Error(`no layer for ${file}`);
}

const internal = imports.filter((i) => !i.spec.includes(":") && i.spec.endsWith(".ts"));

describe("design §5: layers point down only", () => {
  it("reads the import lines it checks", () => {
    const edges = internal.map((i) => `${i.from} → ${i.spec}`);
    expect(edges).toContain("main.ts → store/keyv-store.ts");
    expect(edges).toContain("exchange/exchange.ts → tokens/mint.ts");
    expect(imports.map((i) => `${i.from} → ${i.spec}`)).toContain("tokens/verify.ts → jose");
  });

  it("every file is in a layer", () => {
    for (const i of internal) expect(() => layer(i.from)).not.toThrow();
  });

  it("no import points up", () => {
    const upward = internal
      .filter((i) => layer(i.spec) > layer(i.from))
      .map((i) => `${i.from} → ${i.spec}`);
    expect(upward).toEqual([]);
  });

  it("capabilities do not import each other, except type-only imports", () => {
    const top = (f: string) => f.split("/")[0];
    const crossing = internal
      .filter(
        (i) =>
          layer(i.from) === 1 && layer(i.spec) === 1 && top(i.from) !== top(i.spec) && !i.typeOnly,
      )
      .map((i) => `${i.from} → ${i.spec}`);
    expect(crossing).toEqual([]);
  });

  it("the doors (http/, mcp/, cli/) never import each other", () => {
    const doors = ["http", "mcp", "cli"];
    const top = (f: string) => f.split("/")[0] as string;
    const crossing = internal
      .filter(
        (i) =>
          doors.includes(top(i.from)) && doors.includes(top(i.spec)) && top(i.from) !== top(i.spec),
      )
      .map((i) => `${i.from} → ${i.spec}`);
    expect(crossing).toEqual([]);
  });

  it("only main.ts picks concrete adapters", () => {
    const adapters = ["store/keyv-store.ts", "audit/audit-log.ts", "log.ts", "config.ts"];
    const users = internal.filter((i) => adapters.includes(i.spec) && i.from !== "main.ts");
    expect(users.map((i) => `${i.from} → ${i.spec}`)).toEqual([]);
  });
});

/** Each third-party package and where it may be imported (design §5, §7). */
const HOMES: Record<string, (file: string) => boolean> = {
  jose: (f) => f.startsWith("tokens/"),
  keyv: (f) => f === "store/keyv-record.ts",
  "@keyv/": (f) => f === "store/keyv-store.ts" || f === "store/redis-backend.ts",
  zod: (f) =>
    ["config.ts", "exchange/request.ts", "policy/schema.ts", "policy/json-schema.ts"].includes(f) ||
    f.startsWith("mcp/tools/"),
  hono: (f) => f.startsWith("http/"),
  "@hono/node-server": (f) => f === "main.ts",
  "@modelcontextprotocol/sdk": (f) => f.startsWith("mcp/"),
  pino: (f) => f === "log.ts",
  commander: (f) => f === "main.ts",
  yaml: (f) => f === "policy/load.ts",
  "prom-client": (f) => f.startsWith("metrics/"),
};

describe("design §5: each third-party package lives in one place", () => {
  it("imports every package only from its home", () => {
    const strays = imports
      .filter((i) => !i.spec.startsWith("node:") && !i.spec.endsWith(".ts"))
      .filter((i) => {
        const pkg = Object.keys(HOMES).find(
          (p) => i.spec === p || i.spec.startsWith(p.endsWith("/") ? p : `${p}/`),
        );
        return pkg === undefined || !(HOMES[pkg] as (f: string) => boolean)(i.from);
      })
      .map((i) => `${i.from} → ${i.spec}`);
    expect(strays).toEqual([]);
  });
});
