/**
 * Issue 6, "done when": two `baton serve` processes on one real `redis-server` (started by the
 * test on a free port), both behind one issuer, each on its own port.
 *
 * - A token issued by A is active at B's introspection; revoked on B, it is inactive on A at
 *   once (and the other way round); a revoked delegation token is refused at the other node.
 * - An approval decided on A's approval page is redeemed on B, exactly once: later and
 *   concurrent redemptions on either node are refused, nothing issued.
 * - A task budget spent from A and B concurrently is never exceeded: exactly max_tokens tokens.
 * - Keys: after `baton keys rotate --store <same redis>`, both nodes publish the new kid and sign
 *   with it within ~6 s (they re-read the ring every 5 s); tokens signed by either, under either
 *   key, verify at the other (introspection, and the other node's JWKS).
 */

import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawPost } from "../helpers/assertions.js";
import { TOKEN_TYPE } from "../helpers/broker.js";
import { Children } from "../helpers/cli-process.js";
import {
  type Answer,
  APPROVAL_ID,
  auditOf,
  type BatonNode,
  CALENDAR,
  Cluster,
  exchange,
  expectRefusal,
  introspect,
  issued,
  jtiOf,
  jwksKids,
  kidOf,
  post,
  readCalendar,
  USER,
  until,
} from "../helpers/nodes.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

const children = new Children();
let redis: TestRedis;
let cluster: Cluster;
let A: BatonNode;
let B: BatonNode;
let alice: string;

beforeAll(async () => {
  redis = await startRedis();
  cluster = await Cluster.start(children, { redis });
  [A, B] = cluster.nodes as [BatonNode, BatonNode];
  alice = await cluster.devToken();
}, 60_000);

afterAll(async () => {
  await children.stopAll();
  await redis?.stop();
  await children.removeDirs();
});

const writeCalendar = { audience: "calendar", scope: "calendar.write" };
const delegateSearch = {
  requested_token_type: TOKEN_TYPE.jwt,
  audience: "flight-booker",
  scope: "flights.search",
};
const searchFlights = { audience: "flights", scope: "flights.search" };

describe("issue 6: two nodes on one Redis", { timeout: 60_000 }, () => {
  it("serves one issuer from both nodes, with one JWKS", async () => {
    for (const node of [A, B]) {
      const res = await fetch(`${node.url}/.well-known/oauth-authorization-server`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { issuer: string }).issuer).toBe(cluster.issuer);
    }
    expect(await jwksKids(B.url)).toEqual(await jwksKids(A.url));
  });

  it("a token issued by A is active at B; revoked on B, inactive on A at once", async () => {
    for (const [issuer, revoker] of [
      [A, B],
      [B, A],
    ] as const) {
      const token = await issued(issuer.url, alice, readCalendar);
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({ iss: cluster.issuer, sub: USER, aud: CALENDAR });
      for (const node of [A, B]) {
        expect(await introspect(node.url, token)).toMatchObject({
          active: true,
          jti: claims.jti,
          scope: "calendar.read",
          client_id: "orchestrator",
          act: { sub: "orchestrator" },
        });
      }

      const revoked = await post(revoker.url, "/revoke", { token });
      expect(revoked.status).toBe(200);
      // No wait, no retry: the very next introspection at the other node sees it.
      expect(await introspect(issuer.url, token)).toEqual({ active: false });
      expect(await introspect(revoker.url, token)).toEqual({ active: false });
    }
  });

  it("a delegation token revoked on B is refused at A, with everything it bore", async () => {
    const delegation = await issued(A.url, alice, delegateSearch);
    // flight-booker redeems it at B, then again at A: both fine while it stands.
    const child = await issued(B.url, delegation, searchFlights, "flight-booker");
    expect(decodeJwt(child)).toMatchObject({
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    await issued(A.url, delegation, searchFlights, "flight-booker");

    expect((await post(B.url, "/revoke", { token: delegation })).status).toBe(200);
    expectRefusal(
      await exchange(A.url, delegation, searchFlights, "flight-booker"),
      400,
      "invalid_request",
    );
    // Rule 7: the token it bore is inactive at both nodes too.
    expect(await introspect(A.url, child)).toEqual({ active: false });
    expect(await introspect(B.url, child)).toEqual({ active: false });
  });

  it("an approval decided on A's page is redeemed on B exactly once", async () => {
    const session = await signIn(A);
    const redeem = (node: BatonNode, id: string) =>
      exchange(node.url, alice, { ...writeCalendar, approval_id: id });

    // 1. Asked at A; decided by alice on A's page; redeemed at B; never again at A or B.
    const first = await openApproval(A);
    await approveOn(A, session, first);
    expect(await approvalStatus(B, first)).toBe("approved");
    const token = await redeemedToken(await redeem(B, first));
    expect(await introspect(A.url, token)).toMatchObject({ active: true, scope: "calendar.write" });
    for (const node of [A, B, A, B]) {
      expectRefusal(await redeem(node, first), 400, "invalid_request");
    }

    // 2. A race: twelve redemptions at once, six at each node. One token, eleven refusals.
    const second = await openApproval(B);
    await approveOn(A, session, second);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => redeem(i % 2 === 0 ? B : A, second)),
    );
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    await redeemedToken(winners[0] as Answer);
    for (const loser of answers.filter((a) => a.status !== 200)) {
      expectRefusal(loser, 400, "invalid_request");
    }

    // The audit logs of both nodes, together: each approval redeemed once, in all.
    const events = [...(await auditOf(A)), ...(await auditOf(B))];
    for (const id of [first, second]) {
      expect(
        events.filter((e) => e.type === "approval.redeemed" && e.approval === id),
      ).toHaveLength(1);
    }
    const used = events.filter((e) => e.type === "exchange.denied" && e.rule === "approval.used");
    expect(used).toHaveLength(4 + 11);
  });

  it("a task budget spent from A and B concurrently is never exceeded", async () => {
    const budget = 10;
    const opened = await post(A.url, "/tasks", {
      subject_token: alice,
      subject_token_type: TOKEN_TYPE.jwt,
      purpose: "check the calendar from two nodes",
      scope: "calendar.read flights.search",
      max_tokens: String(budget),
    });
    const task = (await opened.json()) as { task_id: string; status: string; max_tokens: number };
    expect(opened.status, JSON.stringify(task)).toBe(201);
    expect(task).toMatchObject({ status: "active", max_tokens: budget });

    const attempts = 40;
    const answers = await Promise.all(
      Array.from({ length: attempts }, (_, i) =>
        exchange(i % 2 === 0 ? A.url : B.url, alice, { ...readCalendar, task_id: task.task_id }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(budget);
    for (const a of answers.filter((a) => a.status !== 200)) {
      expectRefusal(a, 400, "invalid_request");
    }
    for (const a of ok) expect(decodeJwt(a.body.access_token)).toMatchObject({ txn: task.task_id });
    // Both nodes issued some (two processes really raced for one counter)…
    const byNode = (node: BatonNode) =>
      answers.filter((a, i) => a.status === 200 && (i % 2 === 0 ? A : B) === node).length;
    console.log(
      `task budget ${budget}, ${attempts} concurrent attempts: ${byNode(A)} issued by A, ${byNode(B)} by B`,
    );
    // …and neither node, nor the two together, issued more than the budget.
    const events = [...(await auditOf(A)), ...(await auditOf(B))];
    const inTask = events.filter((e) => e.type === "exchange.issued" && e.txn === task.task_id);
    expect(inTask).toHaveLength(budget);
    const overBudget = events.filter(
      (e) => e.type === "exchange.denied" && e.rule === "task.budget",
    );
    expect(overBudget).toHaveLength(attempts - budget);
    // Spent is spent: the next attempt at either node is refused.
    for (const node of [A, B]) {
      expectRefusal(
        await exchange(node.url, alice, { ...readCalendar, task_id: task.task_id }),
        400,
        "invalid_request",
      );
    }
  });

  it("a key rotated by `baton keys rotate` is published and used by both nodes within ~6 s", async () => {
    const oldKid = kidOf(await issued(A.url, alice, readCalendar));
    expect(kidOf(await issued(B.url, alice, readCalendar))).toBe(oldKid);
    const before = {
      A: await issued(A.url, alice, readCalendar),
      B: await issued(B.url, alice, readCalendar),
    };

    const commandAt = performance.now();
    const out = await cluster.cli("keys", "rotate");
    // The command has written the new ring by the time it exits (it starts a second or so earlier).
    const rotatedAt = performance.now();
    const match = /^New signing key (\S+)\. (\S+) stays published/.exec(out);
    expect(match, out).not.toBeNull();
    const [, newKid, previous] = match as RegExpExecArray;
    expect(previous).toBe(oldKid);

    // Each node picks the rotation up on its own 5 s timer: poll both, measure each.
    const seen = await Promise.all(
      [A, B].map(async (node) => {
        const published = await until(
          `${node.name} publishing ${newKid}`,
          async () =>
            (await jwksKids(node.url)).includes(newKid as string) ? performance.now() : undefined,
          10_000,
          100,
        );
        const signing = await until(
          `${node.name} signing with ${newKid}`,
          async () => {
            const token = await issued(node.url, alice, readCalendar);
            return kidOf(token) === newKid ? { at: performance.now(), token } : undefined;
          },
          10_000,
          100,
        );
        return {
          node,
          sinceCommand: signing.at - commandAt,
          publishedMs: published - rotatedAt,
          signingMs: signing.at - rotatedAt,
          token: signing.token,
        };
      }),
    );
    for (const s of seen) {
      console.log(
        `key rotation seen by ${s.node.name}: published ${s.publishedMs.toFixed(0)} ms and signing ${s.signingMs.toFixed(0)} ms after \`keys rotate\` exited (${s.sinceCommand.toFixed(0)} ms after it was started)`,
      );
      // The ring is re-read every 5 s: within ~6 s of the rotation, whatever the phase.
      expect(s.publishedMs).toBeLessThan(6_000);
      expect(s.signingMs).toBeLessThan(6_000);
    }

    // Both publish the same set: the new kid and the old one (tokens it signed still live).
    const kidsA = await jwksKids(A.url);
    expect(kidsA).toEqual(expect.arrayContaining([oldKid, newKid as string]));
    expect((await jwksKids(B.url)).sort()).toEqual([...kidsA].sort());

    // Tokens signed by either node, under either key, verify at the other: by introspection…
    const [afterA, afterB] = seen.map((s) => s.token) as [string, string];
    for (const [token, other] of [
      [before.A, B],
      [before.B, A],
      [afterA, B],
      [afterB, A],
    ] as const) {
      expect(await introspect(other.url, token)).toMatchObject({ active: true, jti: jtiOf(token) });
    }
    // …and against the other node's published JWKS, as an API would check them.
    for (const [token, other] of [
      [afterA, B],
      [afterB, A],
      [before.A, B],
    ] as const) {
      const jwks = (await (await fetch(`${other.url}/.well-known/jwks.json`)).json()) as {
        keys: [];
      };
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: cluster.issuer,
        audience: CALENDAR,
        typ: "at+jwt",
      });
      expect(payload.sub).toBe(USER);
      expect(protectedHeader.kid).toBe(kidOf(token));
    }
  });
});

// ---- the approval flow over HTTP -----------------------------------------------------------

/** The orchestrator asks for calendar.write at `node`: 400 authorization_pending; the id. */
async function openApproval(node: BatonNode): Promise<string> {
  const res = await exchange(node.url, alice, writeCalendar);
  expectRefusal(res, 400, "authorization_pending");
  expect(res.body.approval_id).toMatch(APPROVAL_ID);
  // One issuer: the page the approver is sent to is the issuer's, whichever node answered.
  expect(res.body.approval_uri).toBe(`${cluster.issuer}/approvals/${res.body.approval_id}`);
  return res.body.approval_id as string;
}

/** A 200 that carries an access token for calendar.write; the token. */
async function redeemedToken(res: Answer): Promise<string> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const token = res.body.access_token as string;
  expect(decodeJwt(token)).toMatchObject({ sub: USER, aud: CALENDAR, scope: "calendar.write" });
  return token;
}

interface PageSession {
  readonly cookie: string;
  readonly csrf: string;
}

/**
 * Alice signs in on `node`'s approval page with her own (dev) token for the page. The cookie is
 * `__Host-` and Secure: over plain http on loopback it is carried by hand; `Origin` is the
 * shared issuer.
 */
async function signIn(node: BatonNode): Promise<PageSession> {
  const token = await cluster.devToken("approvals");
  const body = Buffer.from(new URLSearchParams({ token }).toString());
  const res = await rawPost(
    node.url,
    "/approvals/login",
    {
      "content-type": "application/x-www-form-urlencoded",
      "content-length": body.length,
      origin: cluster.issuer,
    },
    body,
  );
  expect(res.status, res.text).toBe(303);
  const setCookie = [res.headers["set-cookie"] ?? []].flat()[0] as string;
  expect(setCookie).toMatch(/^__Host-baton-approver=/);
  const cookie = setCookie.split(";")[0] as string;
  const page = await fetch(`${node.url}/approvals`, { headers: { cookie } });
  const html = await page.text();
  expect(page.status).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf, "a signed-in page carries its CSRF token").toBeDefined();
  return { cookie, csrf: csrf as string };
}

async function approveOn(node: BatonNode, session: PageSession, id: string): Promise<void> {
  const body = Buffer.from(
    new URLSearchParams({ decision: "approve", csrf: session.csrf }).toString(),
  );
  const res = await rawPost(
    node.url,
    `/approvals/${id}/decide`,
    {
      "content-type": "application/x-www-form-urlencoded",
      "content-length": body.length,
      origin: cluster.issuer,
      cookie: session.cookie,
    },
    body,
  );
  expect(res.status, res.text).toBe(200);
  expect(res.text).toContain(`You approved request <code>${id}</code>`);
}

async function approvalStatus(node: BatonNode, id: string): Promise<string> {
  const res = await post(node.url, `/approvals/${id}/status`, {});
  const body = (await res.json()) as { status: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.status;
}
