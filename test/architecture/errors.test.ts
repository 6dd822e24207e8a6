/**
 * Design §3.6 and §7: errors are classes that carry their wire code, one per code, each with its
 * HTTP status fixed; refusals are built in src/errors.ts only (the rest of src calls its
 * factories), so a status or a code cannot drift at a call site. This test reads the source
 * files, as layers.test.ts does, so the rule cannot rot silently.
 */

import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { describe, expect, it } from "vitest";
import * as errors from "../../src/errors.js";
import { SRC, sourceFiles } from "./source-files.js";

/** The error classes errors.ts exports, by their exported name. */
const CLASSES = Object.entries(errors).filter(
  ([, value]) => typeof value === "function" && errors.ERROR_CLASSES.includes(value as never),
);
const NAMES = ["BatonError", ...CLASSES.map(([name]) => name)];

/**
 * Design §3.6, code → HTTP status, plus the two codes it does not list: `invalid_token` (RFC
 * 6750 §3.1, the bearer token at /mcp) and `server_error` (RFC 6749 §5.2, internals hidden).
 */
const STATUS: Readonly<Record<string, number>> = {
  invalid_request: 400,
  unsupported_grant_type: 400,
  unauthorized_client: 400,
  invalid_client: 401,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_grant: 400,
  authorization_pending: 400,
  access_denied: 400,
  expired_token: 400,
  slow_down: 429,
  temporarily_unavailable: 503,
  invalid_token: 401,
  server_error: 500,
};
/** The approver's desk, no OAuth endpoint: the page maps these to 404 and 409. */
const APPROVER_DESK: Readonly<Record<string, [string, number]>> = {
  NotApprover: ["access_denied", 403],
  NoLongerPending: ["invalid_request", 409],
};

describe("design §3.6: one class per wire code, its status fixed", () => {
  it("finds the classes it checks", () => {
    expect(CLASSES.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        "InvalidScope",
        "InvalidClient",
        "SlowDown",
        "TemporarilyUnavailable",
      ]),
    );
    expect(CLASSES).toHaveLength(errors.ERROR_CLASSES.length);
  });

  it.each(CLASSES)("%s: its code and status are design §3.6's", (name, cls) => {
    const { code, status } = cls as unknown as { code: string; status: number };
    expect([code, status]).toEqual(APPROVER_DESK[name] ?? [code, STATUS[code]]);
    expect((cls as { prototype: object }).prototype).toBeInstanceOf(errors.BatonError);
  });

  it("one class for every code design §3.6 lists, and no code nothing produces", () => {
    const codes = CLASSES.filter(([n]) => !(n in APPROVER_DESK)).map(([, c]) => (c as any).code);
    expect(codes.sort()).toEqual(Object.keys(STATUS).sort());
    expect([...errors.ERROR_CODES].sort()).toEqual(Object.keys(STATUS).sort());
  });

  it("a factory's refusal carries its class's code and status, and its rule", () => {
    const e = errors.invalidScope("A requested scope is not known", "narrow.scope.unknown", {
      allowed: ["docs.read"],
    });
    expect(e).toBeInstanceOf(errors.InvalidScope);
    expect([e.code, e.status, e.rule]).toEqual(["invalid_scope", 400, "narrow.scope.unknown"]);
    // The facts are for the doors to render; the wire body never carries them.
    expect(e.toResponseObject()).toEqual({
      error: "invalid_scope",
      error_description: "A requested scope is not known",
    });
  });
});

describe("design §7: refusals are built in src/errors.ts only", () => {
  const construction = new RegExp(`\\bnew\\s+(${NAMES.join("|")})\\s*\\(`, "g");
  const found = sourceFiles(SRC).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(construction)].map(
      (m) => `${relative(SRC, file)}: new ${m[1]}(`,
    ),
  );

  it("reads the constructions it checks", () => {
    expect(found).toContain("errors.ts: new InvalidRequest(");
  });

  it("no file but errors.ts constructs an error class", () => {
    expect(found.filter((f) => !f.startsWith("errors.ts:"))).toEqual([]);
  });
});
