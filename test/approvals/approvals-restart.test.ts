/**
 * Issue 5, "done when": a restart between approval and redemption (SQLite) keeps the approval
 * valid and still single-use; and the operator's approval desk (`baton approvals list | approve
 * | deny | login`). The real CLI (`bin/baton.js` on the fresh build) is spawned with the demo
 * policies (`policies/`: calendar.write needs `approval: subject`), on a temp SQLite file and a
 * free loopback port.
 */

import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import {
  Children,
  TEST_POLICIES as POLICIES,
  runCli,
  startServe,
  stopChild as stop,
} from "../helpers/cli-process.js";

const USER = "alice@example.com";
/** The demo orchestrator's client secret (policies/agents.yaml says so in its comments). */
const ORCHESTRATOR_SECRET = "orchestrator-secret";
const APPROVAL_ID = /apr_[A-Za-z0-9_-]{22}/;
/** Each spawned command starts a node process of its own: a second or so each, several per test. */
const SLOW = 120_000;

let dir: string;
let url: string;
let port: number;
const children = new Children();

beforeEach(async () => {
  dir = await children.tempDir("baton-approvals-");
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
});
afterEach(() => children.cleanup());

/** The same store, audit log, policies and issuer for every command. */
const shared = () => [
  "--policies",
  POLICIES,
  "--store",
  `sqlite://${dir}/baton.db`,
  "--audit",
  join(dir, "audit.jsonl"),
  "--issuer",
  url,
];

/** `baton serve`; resolves once it is listening. */
async function serve(): Promise<ChildProcess> {
  const server = await startServe(children, { port, args: shared() });
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  return server.proc;
}

/** One CLI command against the shared store, run to its end. */
const baton = (...args: string[]) => runCli(children, [...args, ...shared()]);

/** A CLI command that must succeed: its stdout lines. */
async function batonOk(...args: string[]): Promise<string[]> {
  const run = await baton(...args);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trimEnd().split("\n");
}

async function devToken(): Promise<string> {
  const [token] = await batonOk("dev-token", "--user", USER);
  return token as string;
}

/** The orchestrator asks for calendar.write for alice; with `approval_id` when retrying. */
function requestWrite(subject: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`orchestrator:${ORCHESTRATOR_SECRET}`).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subject,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "calendar",
      scope: "calendar.write",
      ...extra,
    }),
  });
}

async function expectError(res: Response, status: number, error: string) {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, error: body.error }, JSON.stringify(body)).toEqual({
    status,
    error,
  });
  expect(body).not.toHaveProperty("access_token");
  expect(res.headers.get("cache-control")).toBe("no-store");
  return body;
}

/** Opens an approval: 400 authorization_pending; its id. */
async function openApproval(subject: string, reason: string): Promise<string> {
  const body = await expectError(
    await requestWrite(subject, { reason }),
    400,
    "authorization_pending",
  );
  expect(body.approval_id).toMatch(APPROVAL_ID);
  expect(body.approval_uri).toBe(`${url}/approvals/${body.approval_id}`);
  return body.approval_id as string;
}

async function auditEvents(): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, "audit.jsonl"), "utf8");
  return text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("issue 5: approvals across a restart (SQLite) and the operator's desk", () => {
  it(
    "an approval given while the broker is down redeems after a restart, once",
    async () => {
      let server = await serve();
      const user = await devToken();
      const id = await openApproval(user, "book the offsite");
      expect(await stop(server)).toBe(0);

      // The desk reads the same SQLite file: one pending line, with the exact grant.
      const pending = await batonOk("approvals", "list");
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatch(
        new RegExp(
          `^${id}  pending \\(10 min left\\)  orchestrator for ${USER}: calendar \\[calendar\\.write\\]  approvers: subject  reason: "book the offsite"$`,
        ),
      );

      expect(await batonOk("approvals", "approve", id)).toEqual([
        `${id} approved (calendar.write for orchestrator on calendar).`,
      ]);
      expect(await batonOk("approvals", "list")).toEqual(["No pending approval requests."]);
      const all = await batonOk("approvals", "list", "--all");
      expect(all).toHaveLength(1);
      expect(all[0]).toMatch(new RegExp(`^${id}  approved  orchestrator for ${USER}: calendar `));

      server = await serve();
      const res = await requestWrite(user, { approval_id: id });
      const body = (await res.json()) as Record<string, string>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(decodeJwt(body.access_token as string)).toMatchObject({
        sub: USER,
        aud: "https://calendar.example.com",
        scope: "calendar.write",
        act: { sub: "orchestrator" },
      });
      // Single-use survives the restart, and another restart.
      await expectError(await requestWrite(user, { approval_id: id }), 400, "invalid_request");
      expect(await stop(server)).toBe(0);
      server = await serve();
      await expectError(await requestWrite(user, { approval_id: id }), 400, "invalid_request");
      expect(await stop(server)).toBe(0);

      const events = await auditEvents();
      expect(events.filter((e) => e.type === "approval.decided")).toEqual([
        expect.objectContaining({ approval: id, decision: "approved", by: "operator", via: "cli" }),
      ]);
      expect(events.filter((e) => e.type === "approval.redeemed")).toHaveLength(1);
      expect(events.filter((e) => e.type === "exchange.issued")).toHaveLength(1);
      // No token in the audit log.
      expect(JSON.stringify(events)).not.toMatch(/eyJ[\w-]+\.eyJ/);
    },
    SLOW,
  );

  it(
    "login, deny and refusals at the desk, beside a running broker",
    async () => {
      const server = await serve();
      const user = await devToken();
      const id = await openApproval(user, "move the standup");

      // A one-time sign-in link on the issuer, good on the running broker, once.
      const login = await batonOk("approvals", "login", "--as", USER);
      expect(login).toHaveLength(2);
      expect(login[0]).toMatch(
        new RegExp(
          `^One-time sign-in link for ${USER}, valid until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z:$`,
        ),
      );
      const link = login[1] as string;
      expect(link).toMatch(new RegExp(`^${url}/approvals/login\\?token=[A-Za-z0-9_-]{20,}$`));
      const signedIn = await fetch(link, { redirect: "manual" });
      expect(signedIn.status).toBe(303);
      const cookie = signedIn.headers.getSetCookie()[0]?.split(";")[0] as string;
      expect(cookie).toMatch(/^__Host-/);
      expect((await fetch(link, { redirect: "manual" })).status).toBe(400);
      const page = await (await fetch(`${url}/approvals`, { headers: { cookie } })).text();
      expect(page).toContain(id);
      expect(page).toContain("move the standup");

      expect(await batonOk("approvals", "deny", id)).toEqual([
        `${id} denied (calendar.write for orchestrator on calendar).`,
      ]);
      await expectError(await requestWrite(user, { approval_id: id }), 400, "access_denied");
      expect(await (await fetch(`${url}/approvals`, { headers: { cookie } })).text()).not.toContain(
        id,
      );

      // Decided once: a second decision, or an unknown id, fails with a message and exit 1.
      const again = await baton("approvals", "approve", id);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^baton: The approval is no longer pending\n$/);
      const unknown = await baton("approvals", "deny", "apr_AAAAAAAAAAAAAAAAAAAAAA");
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^baton: No such approval/);
      await expectError(await requestWrite(user, { approval_id: id }), 400, "access_denied");
      expect(await baton("approvals", "list", "--all")).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(new RegExp(`^${id}  denied  orchestrator for ${USER}`)),
      });
      expect(await stop(server)).toBe(0);

      const decided = (await auditEvents()).filter((e) => e.type === "approval.decided");
      expect(decided).toEqual([
        expect.objectContaining({ approval: id, decision: "denied", by: "operator", via: "cli" }),
      ]);
    },
    SLOW,
  );
});
