/**
 * Issue 2, "done when": restarting the broker on the same SQLite file keeps the keys and the
 * revocations. The real CLI (`baton serve`, `baton dev-token`) is spawned through
 * `bin/baton.js` (the fresh build); everything lives in a temp dir, on a loopback port.
 */

import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import {
  Children,
  TEST_POLICIES as POLICIES,
  runCli,
  startServe,
  stopChild,
  storeFlags,
} from "../helpers/cli-process.js";

const USER = "alice@example.com";
const FLIGHTS = "https://flights.example.com";
/** The demo agents' client secrets (policies/agents.yaml says so in its comments). */
const DEMO_SECRETS: Record<string, string> = {
  orchestrator: "orchestrator-secret",
  "flight-booker": "flight-booker-secret",
};

let dir: string;
let port: number;
let url: string;
const children = new Children();

beforeAll(async () => {
  dir = await children.tempDir("baton-restart-");
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
});
afterEach(() => children.stopAll());
afterAll(() => children.removeDirs());

/** The same store, audit log, policies and issuer for every command. */
const shared = () => storeFlags(dir, { issuer: url, policies: POLICIES });

/** `baton serve` on the fixed port; resolves once it is listening (banner printed). */
async function serve(): Promise<ChildProcess> {
  const server = await startServe(children, {
    port,
    args: shared(),
    banner: "Why a request was refused",
  });
  return server.proc;
}

/** `baton dev-token` against the same store and issuer: the subject token it prints. */
async function devToken(): Promise<string> {
  const { code, stdout } = await runCli(children, ["dev-token", "--user", USER, ...shared()]);
  expect(code).toBe(0);
  return stdout.trim();
}

function post(path: string, form: Record<string, string>, agent: string): Promise<Response> {
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

const exchangeForm = (subject: string, form: Record<string, string>) => ({
  grant_type: TOKEN_EXCHANGE_GRANT,
  subject_token: subject,
  subject_token_type: TOKEN_TYPE.jwt,
  ...form,
});

async function exchange(agent: string, subject: string, form: Record<string, string>) {
  const res = await post("/token", exchangeForm(subject, form), agent);
  const body = (await res.json()) as Record<string, string>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token as string;
}

async function isActive(token: string): Promise<boolean> {
  const res = await post("/introspect", { token }, "orchestrator");
  expect(res.status).toBe(200);
  return ((await res.json()) as { active: boolean }).active;
}

async function jwksKids(): Promise<string[]> {
  const res = await fetch(`${url}/.well-known/jwks.json`);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

/** The audit log's events (read after a stop, when the log is flushed). */
async function auditEvents(): Promise<{ type: string; rule?: string; agent?: string }[]> {
  const text = await readFile(join(dir, "audit.jsonl"), "utf8");
  return text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

describe("issue 2: restarting on the same SQLite file", () => {
  it("keeps the keys and the revocations", async () => {
    let server = await serve();
    const user = await devToken();
    const delegation = await exchange("orchestrator", user, {
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "flights.search",
    });
    const access = await exchange("flight-booker", delegation, {
      resource: FLIGHTS,
      scope: "flights.search",
    });
    const kidsBefore = await jwksKids();
    expect(kidsBefore).toContain(decodeProtectedHeader(access).kid);
    expect(decodeProtectedHeader(user).kid).toBe(decodeProtectedHeader(access).kid);

    expect((await post("/revoke", { token: delegation }, "orchestrator")).status).toBe(200);
    expect(await isActive(access)).toBe(false);
    expect(await stopChild(server)).toBe(0);
    const issuedBefore = (await auditEvents()).filter((e) => e.type === "exchange.issued").length;
    expect(issuedBefore).toBe(2);

    server = await serve();
    // The keys: the same kid is published, and the old token still verifies against it.
    expect(await jwksKids()).toEqual(kidsBefore);
    const { payload } = await jwtVerify(
      access,
      createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`)),
      {
        typ: "at+jwt",
        issuer: url,
        audience: FLIGHTS,
      },
    );
    expect(payload.jti).toBe(decodeJwt(access).jti);

    // The revocations: the access token and its revoked parent stay inactive.
    expect(await isActive(access)).toBe(false);
    expect(await isActive(delegation)).toBe(false);

    // The unrevoked user token still works, signed by the same key as before the restart.
    const fresh = await exchange("orchestrator", user, {
      resource: FLIGHTS,
      scope: "flights.search",
    });
    expect(decodeProtectedHeader(fresh).kid).toBe(decodeProtectedHeader(access).kid);
    expect(await isActive(fresh)).toBe(true);

    // The revoked delegation token is refused as a subject token, and nothing is issued.
    const res = await post(
      "/token",
      exchangeForm(delegation, { resource: FLIGHTS, scope: "flights.search" }),
      "flight-booker",
    );
    const body = (await res.json()) as Record<string, string>;
    expect(res.status).toBe(400);
    expect(body.error).toBe("invalid_request");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(body).not.toHaveProperty("access_token");

    expect(await stopChild(server)).toBe(0);
    const events = await auditEvents();
    expect(events.filter((e) => e.type === "exchange.issued")).toHaveLength(issuedBefore + 1);
    expect(events.at(-1)).toMatchObject({
      type: "exchange.denied",
      error: "invalid_request",
      rule: "subject.revoked",
      agent: "flight-booker",
    });
  });
});
