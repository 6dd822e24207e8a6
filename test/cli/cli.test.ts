/**
 * The `baton` command line (design §3.1), spawned for real: `bin/baton.js` runs
 * the build (made fresh by test/setup/build-dist.ts), exactly as a user runs it.
 * Every store, audit log and policy copy lives in a temp dir; servers listen on loopback only
 * and are stopped by pid after each test.
 */

import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import { Children, TEST_POLICIES as POLICIES, runCli, startServe } from "../helpers/cli-process.js";

const USER = "alice@example.com";
const JWT_LINE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
/** The demo agents' client secrets (policies/agents.yaml says so in its comments). */
const DEMO_SECRETS: Record<string, string> = {
  orchestrator: "orchestrator-secret",
  "flight-booker": "flight-booker-secret",
};

const children = new Children();

afterEach(async () => {
  // Never leave a server running: stop every child this test started, by its pid.
  await children.stopAll();
});
afterAll(() => children.removeDirs());

const tempDir = () => children.tempDir("baton-cli-");

/** Runs a command to completion. */
const baton = (args: readonly string[]) => runCli(children, args);

/** The flags every command shares, pointing into `dir`. */
const shared = (dir: string, policies = POLICIES) => [
  "--policies",
  policies,
  "--store",
  `sqlite://${dir}/b.db`,
  "--audit",
  join(dir, "audit.jsonl"),
];

/** `baton serve` on a loopback port (a free one by default); resolves once the banner is out. */
const serve = (dir: string, port?: number) =>
  startServe(children, { port, args: shared(dir), banner: "Why a request was refused" });

/** POSTs a form to the served broker as a demo agent (client_secret_basic). */
function postForm(url: string, path: string, form: Record<string, string>, agent = "orchestrator") {
  const credentials = Buffer.from(`${agent}:${DEMO_SECRETS[agent]}`).toString("base64");
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${credentials}`,
    },
    body: new URLSearchParams(form),
  });
}

async function jwksKids(url: string): Promise<string[]> {
  const res = await fetch(`${url}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

/** A copy of the demo policies with `broker.yaml` edited. */
async function policiesWith(edit: (brokerYaml: string) => string): Promise<string> {
  const dir = join(await tempDir(), "policies");
  await cp(POLICIES, dir, { recursive: true });
  const file = join(dir, "broker.yaml");
  await writeFile(file, edit(await readFile(file, "utf8")));
  return dir;
}

describe("baton policy check (design §3.1)", () => {
  it("exits 0 with one OK line on the demo policies", async () => {
    const result = await baton(["policy", "check", POLICIES]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(""); // the demo draws no warning
    expect(result.stdout).toMatch(
      /^\S*policies\/: OK \(4 files, 3 APIs, \d+ scopes, 4 agents, 1 task template, 1 approver group\)\n$/,
    );
  });

  it("exits 1 with file: path: message lines on a broken directory", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "apis.yaml"), "apis:\n  x:\n    resource: nope\n    bogus: 1\n");
    await writeFile(join(dir, "agents.yaml"), "agents:\n  a:\n    scopes: [missing.scope]\n");
    const result = await baton(["policy", "check", dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(/^[\w.-]+\.yaml: [\w.[\]-]+: \S.*$/);
    expect(lines).toContain("apis.yaml: apis.x.resource: must be an absolute URI");
    expect(lines.some((l) => l.startsWith("apis.yaml: apis.x.bogus: unknown key"))).toBe(true);
  });
});

describe("baton dev-token (design §3.1)", () => {
  it("prints exactly one JWT line, the subject token of the development issuer", async () => {
    const dir = await tempDir();
    const result = await baton([
      "dev-token",
      "--user",
      USER,
      "--agent",
      "orchestrator",
      "--scope",
      "flights.search calendar.read",
      ...shared(dir),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.endsWith("\n")).toBe(true);
    const lines = result.stdout.slice(0, -1).split("\n");
    expect(lines).toHaveLength(1);
    const token = lines[0] as string;
    expect(token).toMatch(JWT_LINE);
    expect(decodeJwt(token)).toMatchObject({
      iss: "http://127.0.0.1:8787/dev",
      // For the broker: a subject token at /token, and the bearer token at /mcp.
      aud: ["http://127.0.0.1:8787", "http://127.0.0.1:8787/mcp"],
      sub: USER,
      azp: "orchestrator",
      scope: "flights.search calendar.read",
    });
    // The audit log names the token by jti, never carries it.
    const audit = await readFile(join(dir, "audit.jsonl"), "utf8");
    expect(audit).toContain('"type":"dev_token.issued"');
    expect(audit).toContain(decodeJwt(token).jti as string);
    expect(audit).not.toContain(token);
  });

  it("is refused (exit 1, nothing on stdout) when the policy turns dev_issuer off", async () => {
    const policies = await policiesWith((yaml) =>
      yaml.replace("dev_issuer: true", "dev_issuer: false"),
    );
    const check = await baton(["policy", "check", policies]);
    expect(check.code).toBe(0);
    const result = await baton(["dev-token", "--user", USER, ...shared(await tempDir(), policies)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/dev_issuer/);
    expect(result.stderr).not.toMatch(/eyJ/);
  });

  it("--for approvals: a token for the approval page only, and one that names an agent is refused", async () => {
    const dir = await tempDir();
    const page = await baton([
      "dev-token",
      "--user",
      USER,
      "--for",
      "approvals",
      "--agent",
      "orchestrator",
      ...shared(dir),
    ]);
    expect(page.code).toBe(1);
    expect(page.stdout).toBe("");
    expect(page.stderr).toMatch(/names no agent and no scope/);
    // And the page token itself: for the approval page only.
    const ok = await baton(["dev-token", "--user", USER, "--for", "approvals", ...shared(dir)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(decodeJwt(ok.stdout.trim())).toMatchObject({
      aud: "http://127.0.0.1:8787/approvals",
      sub: USER,
    });
    expect(decodeJwt(ok.stdout.trim())).not.toHaveProperty("azp");
  });
});

describe("baton keys rotate (design §3.1)", () => {
  it("prints the new kid, never key material; serve then publishes both kids", async () => {
    const dir = await tempDir();
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const before = await baton(["dev-token", "--user", USER, ...shared(dir), "--issuer", issuer]);
    expect(before.code, before.stderr).toBe(0);
    const oldToken = before.stdout.trim();
    const oldKid = decodeProtectedHeader(oldToken).kid as string;

    const rotated = await baton(["keys", "rotate", ...shared(dir)]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const match = /^New signing key (\S+)\. (\S+) stays published/.exec(rotated.stdout);
    expect(match).not.toBeNull();
    const [, newKid, previous] = match as RegExpExecArray;
    expect(previous).toBe(oldKid);
    expect(newKid).not.toBe(oldKid);

    // No private member of any stored key reaches stdout, stderr or the audit log.
    const store = await openKeyvStore(`sqlite://${dir}/b.db`);
    const ring = await store.get<{ keys: { kid: string; privateJwk?: { d: string } }[] }>(
      "keys:ring",
    );
    await store.close();
    expect(ring?.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    // The retired key never signs again: its private half is gone from the store.
    expect(ring?.keys.find((k) => k.kid === oldKid)?.privateJwk).toBeUndefined();
    const current = ring?.keys.find((k) => k.kid === newKid)?.privateJwk?.d;
    expect(current).toEqual(expect.any(String));
    const audit = await readFile(join(dir, "audit.jsonl"), "utf8");
    for (const text of [rotated.stdout, rotated.stderr, audit]) {
      expect(text).not.toContain(current);
    }
    expect(rotated.stdout).not.toMatch(/[{}]/);

    const server = await serve(dir, port);
    const kids = await jwksKids(server.url);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid as string]));
    // A token the old key signed is still accepted; what is issued now uses the new key.
    const res = await postForm(server.url, "/token", {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: oldToken,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "calendar",
    });
    const body = (await res.json()) as { access_token: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(decodeProtectedHeader(body.access_token).kid).toBe(newKid);
    expect(await server.stop()).toBe(0);
  });
});

describe("baton serve (design §3.1, §3.2)", () => {
  it("prints the URLs and a dev-token + curl example, and answers RFC 8414 metadata", async () => {
    const dir = await tempDir();
    const server = await serve(dir);
    const { url, banner } = server;
    expect(banner).toContain(`Baton is serving on ${url}`);
    for (const line of [
      `${url}/.well-known/oauth-authorization-server`,
      `${url}/.well-known/jwks.json`,
      `POST ${url}/token`,
      `POST ${url}/introspect`,
      `POST ${url}/revoke`,
      "baton dev-token --user alice@example.com",
      `--issuer ${url}`,
      `${url}/mcp`,
      `${url}/approvals`,
      // The published demo secret, recognised by its hash: the block runs as pasted.
      `curl -s -u orchestrator:orchestrator-secret ${url}/token`,
      `grant_type=${TOKEN_EXCHANGE_GRANT}`,
      `subject_token_type=${TOKEN_TYPE.jwt}`,
    ]) {
      expect(banner).toContain(line);
    }
    // Only the orchestrator's, which the block uses; no other secret is ever printed.
    expect(banner).not.toContain(DEMO_SECRETS["flight-booker"]);

    const res = await fetch(`${url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const metadata = await res.json();
    expect(metadata).toMatchObject({
      issuer: url,
      token_endpoint: `${url}/token`,
      grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    });
    expect(await server.stop()).toBe(0);
  });

  it("runs the banner's example exchange with the demo secret", async () => {
    const dir = await tempDir();
    const server = await serve(dir);
    const minted = await baton([
      "dev-token",
      "--user",
      USER,
      ...shared(dir),
      "--issuer",
      server.url,
    ]);
    expect(minted.code, minted.stderr).toBe(0);
    const res = await postForm(server.url, "/token", {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: minted.stdout.trim(),
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "calendar",
      scope: "calendar.read",
    });
    const body = (await res.json()) as { access_token: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token)).toMatchObject({
      iss: server.url,
      aud: "https://calendar.example.com",
      act: { sub: "orchestrator" },
    });
    expect(await server.stop()).toBe(0);
    // Stopped: the audit log is flushed, and names tokens by jti only.
    const audit = await readFile(join(dir, "audit.jsonl"), "utf8");
    expect(audit).toContain('"type":"exchange.issued"');
    expect(audit).not.toContain(body.access_token);
    expect(audit).not.toContain(minted.stdout.trim());
  });

  it("exits 1 naming --issuer when the issuer is not an http(s) URL", async () => {
    const dir = await tempDir();
    for (const command of [
      ["serve", "--port", String(await freePort())],
      ["dev-token", "--user", USER],
    ]) {
      const result = await baton([...command, ...shared(dir), "--issuer", "ftp://x"]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^baton: --issuer \(BATON_ISSUER\): .+\n$/);
    }
  });

  it.each([
    [["--store-timeout", "soon"], /^baton: --store-timeout \(BATON_STORE_TIMEOUT_MS\): must be/],
    [
      ["--store-timeout", "0"],
      /^baton: --store-timeout \(BATON_STORE_TIMEOUT_MS\): must be between/,
    ],
    [
      ["--shutdown-grace", "5x"],
      /^baton: --shutdown-grace \(BATON_SHUTDOWN_GRACE\): must be a duration/,
    ],
    [["--port", "70000"], /^baton: --port \(BATON_PORT\): must be between 0 and 65535/],
    [["--store", "memory://"], /^baton: --store \(BATON_STORE\): memory:\/\/ .* unless --dev/],
    [["--store", "mysql://db/baton"], /^baton: --store: unsupported store URL scheme "mysql:"/],
  ])("exits 1 naming the setting for serve %j", async (flags, message) => {
    const dir = await tempDir();
    const result = await baton([
      "serve",
      "--port",
      String(await freePort()),
      ...shared(dir),
      ...(flags as string[]),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(message as RegExp);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("exits 1 within the deadline naming --store when Redis does not answer, never its password", async () => {
    const dir = await tempDir();
    const port = await freePort();
    const started = Date.now();
    const result = await baton([
      "serve",
      "--port",
      String(await freePort()),
      ...shared(dir),
      "--store",
      `redis://:hunter2@127.0.0.1:${port}`,
      "--store-timeout",
      "300",
    ]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stderr).toMatch(/--store: cannot connect to redis:\/\/127\.0\.0\.1:\d+/);
    expect(result.stderr).not.toContain("hunter2");
  });
});
