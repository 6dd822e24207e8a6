/**
 * Operational logs (issue 6, design §4 rule 9): pino on stderr redacts tokens, secrets,
 * assertions, Authorization headers and private keys by path, a second line of defence behind
 * code that never hands them to the logger. A real child process, so the real destination
 * (fd 2, asynchronous) is what is read.
 */

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Children, collect, spawnNode } from "../helpers/cli-process.js";

const children = new Children();
afterEach(() => children.stopAll());
afterAll(() => children.removeDirs());

const SECRETS = {
  token: "eyJ.token-value.sig",
  access_token: "eyJ.access-value.sig",
  subject_token: "eyJ.subject-value.sig",
  actor_token: "eyJ.actor-value.sig",
  client_secret: "client-secret-value",
  client_assertion: "eyJ.assertion-value.sig",
  authorization: "Basic c2VjcmV0LXZhbHVl",
  privateJwk: { kty: "OKP", d: "private-d-value" },
};

const SCRIPT = `
import { createLogger } from "./src/log.ts";
const log = createLogger("info");
const secrets = JSON.parse(process.env.SECRETS);
log.info({ request: secrets, req: { headers: { authorization: secrets.authorization } } }, "request");
log.error({ key: { privateJwk: secrets.privateJwk, d: secrets.privateJwk.d } }, "key");
log.flush();
`;

describe("logs (pino, stderr)", () => {
  it("redacts every secret-bearing field and keeps the rest of the line", async () => {
    const child = spawnNode(children, ["--import", "tsx", "--input-type=module", "-e", SCRIPT], {
      env: { SECRETS: JSON.stringify(SECRETS) },
    });
    const { code, stdout, stderr } = await collect(child);
    expect(code, stderr).toBe(0);
    // stdout is the MCP channel of `baton mcp`: logs never go there.
    expect(stdout).toBe("");
    const lines = stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, any>);
    expect(lines.map((l) => l.msg)).toEqual(["request", "key"]);
    for (const field of Object.keys(SECRETS)) {
      expect(lines[0]?.request[field]).toBe("[redacted]");
    }
    expect(lines[0]?.req.headers.authorization).toBe("[redacted]");
    expect(lines[1]?.key).toEqual({ privateJwk: "[redacted]", d: "[redacted]" });
    for (const value of [...Object.values(SECRETS), SECRETS.privateJwk.d]) {
      if (typeof value === "string") expect(stderr).not.toContain(value);
    }
  });
});
