/**
 * Design §5: layers point down only, and each third-party package lives in one place. This
 * test reads the import lines of every source file, so the rule cannot rot silently.
 */

import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { SRC, sourceFiles } from "./source-files.js";

interface Import {
  readonly from: string;
  readonly spec: string;
  readonly typeOnly: boolean;
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

/**
 * Layer of a file under src/ (design §5): 0 leaves, 1 capabilities, 2 core, 3 edges, 4 root.
 * `verify/` is an edge too: the second public entry point (`baton/verify`), which API owners
 * import to check Baton's tokens. It stands apart from the broker (see its own test below).
 */
function layer(file: string): number {
  if (["errors.ts", "rules.ts", "clock.ts", "urls.ts"].includes(file)) return 0;
  const top = file.split("/")[0] as string;
  if (["policy", "tokens", "store", "audit", "tasks", "approvals", "metrics"].includes(top))
    return 1;
  if (top === "exchange") return 2;
  if (["http", "mcp", "cli", "verify", "config.ts", "log.ts"].includes(top)) return 3;
  if (top === "main") return 4;
  throw new Error(`no layer for ${file}`);
}

const internal = imports.filter((i) => !i.spec.includes(":") && i.spec.endsWith(".ts"));

describe("design §5: layers point down only", () => {
  it("reads the import lines it checks", () => {
    const edges = internal.map((i) => `${i.from} → ${i.spec}`);
    expect(edges).toContain("main/compose.ts → store/keyv-store.ts");
    expect(edges).toContain("exchange/steps/issue.ts → tokens/mint.ts");
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

  it("the doors (http/, mcp/, cli/, verify/) never import each other", () => {
    const doors = ["http", "mcp", "cli", "verify"];
    const top = (f: string) => f.split("/")[0] as string;
    const crossing = internal
      .filter(
        (i) =>
          doors.includes(top(i.from)) && doors.includes(top(i.spec)) && top(i.from) !== top(i.spec),
      )
      .map((i) => `${i.from} → ${i.spec}`);
    expect(crossing).toEqual([]);
  });

  it("verify/ (the API owner's entry point) imports nothing of the broker but token-type constants", () => {
    // It ships to API owners as `baton/verify`: it must not pull in the broker's store, policy
    // or core, and it has its own error class (RFC 6750), not the broker's (RFC 6749).
    const reaching = internal
      .filter((i) => i.from.startsWith("verify/") && !i.spec.startsWith("verify/"))
      .map((i) => `${i.from} → ${i.spec}`)
      .filter((edge) => !edge.endsWith("→ tokens/token-types.ts"));
    expect(reaching).toEqual([]);
    const users = internal.filter(
      (i) => i.spec.startsWith("verify/") && !i.from.startsWith("verify/"),
    );
    expect(users.map((i) => `${i.from} → ${i.spec}`)).toEqual([]);
  });

  it("only main/ picks concrete adapters", () => {
    const adapters = ["store/keyv-store.ts", "audit/audit-log.ts", "log.ts", "config.ts"];
    const users = internal.filter((i) => adapters.includes(i.spec) && !i.from.startsWith("main/"));
    expect(users.map((i) => `${i.from} → ${i.spec}`)).toEqual([]);
  });
});

/** Each third-party package and where it may be imported (design §5, §7). */
const HOMES: Record<string, (file: string) => boolean> = {
  // Design §5 puts jose in tokens/. verify/ is the exception: a separate public entry point
  // (`baton/verify`) that API owners run in their own process, apart from the broker, so it
  // verifies with jose itself rather than reaching into the broker's tokens/.
  jose: (f) => f.startsWith("tokens/") || f.startsWith("verify/"),
  keyv: (f) => f === "store/keyv-record.ts",
  "@keyv/": (f) => f === "store/sqlite-backend.ts" || f === "store/redis-backend.ts",
  zod: (f) =>
    [
      "config.ts",
      "exchange/request-fields.ts",
      "http/token-request.ts",
      "http/jwt-bearer-request.ts",
      "http/task-forms.ts",
      "policy/schema.ts",
      "policy/json-schema.ts",
    ].includes(f) || f.startsWith("mcp/tools/"),
  hono: (f) => f.startsWith("http/"),
  "@hono/node-server": (f) => f === "main/server.ts",
  "@modelcontextprotocol/sdk": (f) => f.startsWith("mcp/"),
  pino: (f) => f === "log.ts",
  commander: (f) => f.startsWith("main/"),
  yaml: (f) => f === "policy/load.ts",
  "prom-client": (f) => f.startsWith("metrics/"),
  // The approval page's sign-in at an OpenID Provider: the relying party's side of OIDC.
  oauth4webapi: (f) => f === "http/approvals/oidc-login.ts",
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
