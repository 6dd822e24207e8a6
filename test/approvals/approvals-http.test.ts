/**
 * Issue 5, "done when" (HTTP level): approvals of elevated grants (design §4 rule 6, §3.6) over
 * `POST /token`, the approvers' page `/approvals`, `POST /approvals/{id}/status`, `POST /tasks`
 * and the webhook. Real HTTP on loopback against startTestBroker; the page is driven with exact
 * headers (the browser test lives elsewhere).
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decideApproval } from "../../src/exchange/operations/decide-approval.js";
import {
  ALICE,
  accessRequest,
  approvalState,
  BOB,
  CAROL,
  type Collector,
  csrfOf,
  decide,
  decideAs,
  decisionsOf,
  expectPending,
  followLogin,
  getPage,
  loginLink,
  type PageSession,
  postPage,
  requestApproval,
  signIn,
  startCollector,
  withApproverGroup,
} from "../helpers/approvals.js";
import {
  exchange,
  expectIssued,
  expectRefused,
  type Form,
  issuedCount,
} from "../helpers/assertions.js";
import {
  freePort,
  startTestBroker,
  type TestBroker,
  type TestBrokerOptions,
} from "../helpers/broker.js";
import { postTask, postWhoami, startTask } from "../helpers/tasks.js";

let broker: TestBroker;
let alice: string;
const extra: { close(): Promise<void> }[] = [];

let running: TestBroker | undefined;

/** (Re)starts the broker for this test with its own policy edits; alice's user token. */
async function boot(options: TestBrokerOptions = {}): Promise<void> {
  await running?.close();
  running = broker = await startTestBroker(options);
  alice = await broker.devToken(ALICE);
}

beforeEach(() => boot({ editPolicy: withApproverGroup }));
afterEach(async () => {
  await running?.close();
  running = undefined;
  await Promise.all(extra.splice(0).map((s) => s.close()));
});

/** The orchestrator asks for calendar.write for alice (elevated: `approval: subject`). */
const writeCalendar = (extraFields: Record<string, string> = {}) =>
  accessRequest(alice, "calendar", "calendar.write", extraFields);

const openWrite = (extraFields: Record<string, string> = {}) =>
  requestApproval(broker, "orchestrator", writeCalendar(extraFields));

/** Every approval page response carries these (design §3.2, issue 5 deliverable 4). */
function expectPageHeaders(headers: Headers | Record<string, unknown>, what: string): void {
  const get = (name: string) =>
    headers instanceof Headers ? headers.get(name) : (headers[name] as string | undefined);
  expect(get("content-security-policy"), what).toContain("frame-ancestors 'none'");
  expect(get("x-frame-options"), what).toBe("DENY");
  expect(get("cache-control"), what).toBe("no-store");
}

describe("an approval from request to token", () => {
  it("the subject approves on the page; the agent gets its token once, and a second redemption fails", async () => {
    const pending = await openWrite({ reason: "add the offsite to the calendar" });
    expect(await approvalState(broker, pending.approval_id)).toBe("pending");
    // Polling before a decision: still pending, the same approval, nothing issued.
    const again = await expectPending(
      broker,
      exchange(broker, writeCalendar({ approval_id: pending.approval_id }), "orchestrator"),
    );
    expect(again.approval_id).toBe(pending.approval_id);

    const session = await signIn(broker, ALICE);
    const list = await getPage(broker, "/approvals", session);
    // What would be granted, exactly: API, scope and its description, user, chain, reason.
    expect(list.html).toContain(`id="${pending.approval_id}"`);
    expect(list.html).toContain("<code>calendar.write</code> Change events");
    expect(list.html).toContain("https://calendar.example.com");
    expect(list.html).toContain(`<code>${ALICE}</code>`);
    expect(list.html).toContain("<code>orchestrator</code>");
    expect(list.html).toContain("add the offsite to the calendar");

    const res = await decide(broker, session, pending.approval_id, "approve");
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain(`You approved request <code>${pending.approval_id}</code>`);
    expect(decisionsOf(broker, pending.approval_id)).toEqual([
      expect.objectContaining({ decision: "approved", by: ALICE, via: "web" }),
    ]);

    const issued = await expectIssued(
      broker,
      exchange(broker, writeCalendar({ approval_id: pending.approval_id }), "orchestrator"),
    );
    expect(issued.claims).toMatchObject({
      sub: ALICE,
      aud: "https://calendar.example.com",
      scope: "calendar.write",
      client_id: "orchestrator",
    });
    expect(issued.chain).toEqual(["orchestrator"]);
    expect(broker.events.filter((e) => e.type === "approval.redeemed")).toHaveLength(1);

    await expectRefused(
      broker,
      exchange(broker, writeCalendar({ approval_id: pending.approval_id }), "orchestrator"),
      400,
      "invalid_request",
    );
    // Decided: it is gone from the pending list.
    expect((await getPage(broker, "/approvals", session)).html).not.toContain(pending.approval_id);
  });

  it("a group member approves a group-approved scope on the page", async () => {
    const form = accessRequest(alice, "payments", "payments.charge");
    const pending = await requestApproval(broker, "orchestrator", form);
    await decideAs(broker, CAROL, pending.approval_id, "approve");
    await expectIssued(
      broker,
      exchange(broker, { ...form, approval_id: pending.approval_id }, "orchestrator"),
    );
  });

  it("each distinct request opens its own approval with a fresh id", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++)
      ids.add((await openWrite({ ttl_seconds: `${60 + i}` })).approval_id);
    expect(ids.size).toBe(5);
  });
});

describe("only the approvers the policy names can see or decide", () => {
  async function expectHiddenFrom(session: PageSession, id: string): Promise<void> {
    const list = await getPage(broker, "/approvals", session);
    expect(list.status).toBe(200);
    expect(list.html).not.toContain(id);
    expect(list.html).toContain("Nothing is waiting for you.");
    const one = await getPage(broker, `/approvals/${id}`, session);
    expect(one.status).toBe(404);
    expect(one.html).not.toContain(id);
    for (const decision of ["approve", "deny"] as const) {
      const res = await decide(broker, session, id, decision);
      expect(res.status, res.text).toBe(404);
      expect(res.text).not.toContain(id);
    }
    expect(await approvalState(broker, id)).toBe("pending");
    expect(decisionsOf(broker, id)).toEqual([]);
  }

  it("`approval: subject`: another user cannot see or decide alice's request", async () => {
    const { approval_id } = await openWrite();
    await expectHiddenFrom(await signIn(broker, BOB), approval_id);
    // Not even a member of an approvers group: `subject` means alice herself.
    await expectHiddenFrom(await signIn(broker, CAROL), approval_id);
    // Alice, its subject, sees it.
    expect((await getPage(broker, "/approvals", await signIn(broker, ALICE))).html).toContain(
      approval_id,
    );
  });

  it("a group scope: non-members, the subject included, cannot see or decide it", async () => {
    const { approval_id } = await requestApproval(
      broker,
      "orchestrator",
      accessRequest(alice, "payments", "payments.charge"),
    );
    await expectHiddenFrom(await signIn(broker, BOB), approval_id);
    await expectHiddenFrom(await signIn(broker, ALICE), approval_id);
    const carol = await signIn(broker, CAROL);
    expect((await getPage(broker, "/approvals", carol)).html).toContain(approval_id);
    expect((await getPage(broker, `/approvals/${approval_id}`, carol)).status).toBe(200);
  });

  it("an unknown id answers exactly like someone else's", async () => {
    const session = await signIn(broker, ALICE);
    const unknown = "apr_AAAAAAAAAAAAAAAAAAAAAA";
    expect((await getPage(broker, `/approvals/${unknown}`, session)).status).toBe(404);
    expect((await decide(broker, session, unknown, "approve")).status).toBe(404);
  });

  it("an agent cannot sign in: its tokens are refused at the login form", async () => {
    const { approval_id } = await openWrite();
    const access = await expectIssued(
      broker,
      exchange(broker, accessRequest(alice, "calendar", "calendar.read"), "orchestrator"),
    );
    const delegation = await expectIssued(
      broker,
      exchange(
        broker,
        {
          subject_token: alice,
          requested_token_type: "urn:ietf:params:oauth:token-type:jwt",
          audience: "flight-booker",
          scope: "flights.search",
        },
        "orchestrator",
      ),
    );
    for (const token of [access.token, delegation.token, "not-a-token"]) {
      const res = await postPage(broker, "/approvals/login", undefined, { token });
      expect(res.status, res.text).toBe(400);
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
    // An agent's client credentials are no session either.
    const res = await postPage(broker, `/approvals/${approval_id}/decide`, undefined, {
      decision: "approve",
      client_id: "orchestrator",
      client_secret: broker.secrets.orchestrator as string,
    });
    expect(res.status).toBe(403);
    expect(await approvalState(broker, approval_id)).toBe("pending");
  });

  it("a person signs in with their own token for the approval page, from a trusted issuer", async () => {
    const approvals = `${broker.issuer}/approvals`;
    for (const token of [
      await broker.devToken(ALICE, { for: "approvals" }),
      await broker.idpToken({ sub: ALICE, aud: approvals }),
    ]) {
      const res = await postPage(broker, "/approvals/login", undefined, { token });
      expect(res.status, res.text).toBe(303);
      const cookie = String(res.headers["set-cookie"]?.[0]).split(";")[0] as string;
      const page = await getPage(broker, "/approvals", { cookie });
      expect(page.html).toContain(ALICE);
      expect(csrfOf(page.html)).toBeDefined();
    }
  });

  it("signing in from a request's link returns to it; any other `next` goes to the list (no open redirect)", async () => {
    const { approval_id } = await openWrite();
    const path = `/approvals/${approval_id}`;
    const signedOut = await getPage(broker, path);
    expect(signedOut.status).toBe(200);
    expect(signedOut.html).toContain(`<input type="hidden" name="next" value="${path}">`);
    const loginWith = async (next: string) => {
      const token = await broker.devToken(ALICE, { for: "approvals" });
      const res = await postPage(broker, "/approvals/login", undefined, { token, next });
      expect(res.status, res.text).toBe(303);
      return res.headers.location;
    };
    expect(await loginWith(path)).toBe(path);
    expect(await loginWith("/approvals/tasks/tsk_AAAAAAAAAAAAAAAAAAAAAA")).toBe(
      "/approvals/tasks/tsk_AAAAAAAAAAAAAAAAAAAAAA",
    );
    for (const elsewhere of [
      "https://evil.example/approvals/x",
      "//evil.example/approvals/x",
      "/\\evil.example",
      "/approvals/../metrics",
      "/approvals/x?y=1",
      "/metrics",
      "",
    ]) {
      expect(await loginWith(elsewhere), elsewhere).toBe("/approvals");
    }
    // The one-time link takes `next` too.
    const { res } = await followLogin(
      `${await loginLink(broker, ALICE)}&next=${encodeURIComponent(path)}`,
    );
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(path);
  });

  it("rule 6: the user's token an agent holds never signs in, so no agent approves its own request", async () => {
    const { approval_id } = await openWrite();
    const approvals = `${broker.issuer}/approvals`;
    const agentHeld = [
      // What a user hands an agent: a subject token for the broker (or /mcp), from either issuer.
      await broker.devToken(ALICE),
      await broker.devToken(ALICE, { agent: "orchestrator" }),
      await broker.idpToken({ sub: ALICE }),
      // Addressed to the page, but naming an agent as its holder, or carrying a chain.
      await broker.idpToken({ sub: ALICE, aud: approvals, azp: "orchestrator" }),
      await broker.idpToken({ sub: ALICE, aud: approvals, may_act: { sub: "orchestrator" } }),
      await broker.idpToken({ sub: ALICE, aud: approvals, act: { sub: "orchestrator" } }),
    ];
    for (const token of agentHeld) {
      const res = await postPage(broker, "/approvals/login", undefined, { token });
      expect(res.status, res.text).toBe(400);
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
    expect(await approvalState(broker, approval_id)).toBe("pending");
    // And the page's token is no subject token: an agent given it gets nothing from /token.
    const pageToken = await broker.devToken(ALICE, { for: "approvals" });
    await expectRefused(
      broker,
      exchange(broker, accessRequest(pageToken, "calendar", "calendar.read"), "orchestrator"),
      400,
      "invalid_request",
    );
  });
});

describe("an approval covers the exact request only", () => {
  it("any field changed (scope, API, ttl, subject, agent) is not covered, and leaves it unused", async () => {
    const { approval_id } = await openWrite();
    const flights = await requestApproval(
      broker,
      "orchestrator",
      accessRequest(alice, "flights", "flights.book"),
    );
    for (const id of [approval_id, flights.approval_id])
      await decideApproval(broker.deps, id, "approved", { person: ALICE }, "web");

    const bob = await broker.devToken(BOB);
    const changed: [string, Form, string][] = [
      ["scope", accessRequest(alice, "calendar", "calendar.read calendar.write"), "orchestrator"],
      ["API", accessRequest(alice, "flights", "flights.book"), "orchestrator"],
      ["ttl", writeCalendar({ ttl_seconds: "60" }), "orchestrator"],
      ["subject", accessRequest(bob, "calendar", "calendar.write"), "orchestrator"],
    ];
    for (const [what, form, agent] of changed) {
      const { body } = await expectRefused(
        broker,
        exchange(broker, { ...form, approval_id }, agent),
        400,
        "invalid_request",
      );
      expect(body.error_description, what).toMatch(/does not cover/);
    }
    // Another agent, for the same user and the same API and scope: another chain.
    await expectRefused(
      broker,
      exchange(
        broker,
        accessRequest(alice, "flights", "flights.book", { approval_id: flights.approval_id }),
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
    expect(broker.events.filter((e) => e.type === "approval.redeemed")).toEqual([]);

    // The exact requests still redeem: a mismatch consumed nothing.
    await expectIssued(broker, exchange(broker, writeCalendar({ approval_id }), "orchestrator"));
    await expectIssued(
      broker,
      exchange(
        broker,
        accessRequest(alice, "flights", "flights.book", { approval_id: flights.approval_id }),
        "orchestrator",
      ),
    );
  });

  it("the ttl asked for is part of the request: the same ttl redeems", async () => {
    const { approval_id } = await openWrite({ ttl_seconds: "120" });
    await decideApproval(broker.deps, approval_id, "approved", { person: ALICE }, "web");
    await expectRefused(
      broker,
      exchange(broker, writeCalendar({ approval_id }), "orchestrator"),
      400,
      "invalid_request",
    );
    const issued = await expectIssued(
      broker,
      exchange(broker, writeCalendar({ ttl_seconds: "120", approval_id }), "orchestrator"),
    );
    expect(issued.body.expires_in).toBe(120);
  });

  it("the task is part of the request: another task, or none, is not covered", async () => {
    // Both tasks open while calendar.write is not elevated (no standing approval), then a
    // policy reload makes it elevated: grants inside them now wait for per-request approvals.
    await boot({
      editPolicy: (data) => {
        data.apis.calendar.scopes["calendar.write"] = "Change events";
      },
    });
    const tasks = [];
    for (const purpose of ["one", "two"]) {
      const task = await startTask(broker, "orchestrator", alice, {
        purpose,
        scope: "calendar.read calendar.write",
      });
      expect(task.status).toBe("active");
      tasks.push(task.task_id);
    }
    const [one, two] = tasks as [string, string];
    broker.reloadWith((data) => {
      data.apis.calendar.scopes["calendar.write"] = {
        description: "Change events",
        approval: "subject",
      };
    });
    const { approval_id } = await openWrite({ task_id: one });
    await decideApproval(broker.deps, approval_id, "approved", { person: ALICE }, "web");
    for (const form of [
      writeCalendar({ approval_id }),
      writeCalendar({ task_id: two, approval_id }),
    ])
      await expectRefused(broker, exchange(broker, form, "orchestrator"), 400, "invalid_request");
    const issued = await expectIssued(
      broker,
      exchange(broker, writeCalendar({ task_id: one, approval_id }), "orchestrator"),
    );
    expect(issued.claims.txn).toBe(one);
  });

  it("20 concurrent redemptions of one approval: exactly one token", async () => {
    const { approval_id } = await openWrite();
    await decideAs(broker, ALICE, approval_id, "approve");
    const before = issuedCount(broker);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        exchange(broker, writeCalendar({ approval_id }), "orchestrator"),
      ),
    );
    const results = await Promise.all(
      responses.map(async (r) => ({ status: r.status, body: (await r.json()) as any })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(ok[0]?.body.access_token).toEqual(expect.any(String));
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r).toMatchObject({ status: 400, body: { error: "invalid_request" } });
      expect(r.body).not.toHaveProperty("access_token");
    }
    expect(issuedCount(broker)).toBe(before + 1);
    expect(broker.events.filter((e) => e.type === "approval.redeemed")).toHaveLength(1);
  });
});

describe("one decision, ever", () => {
  it("10 concurrent approve / deny posts: exactly one decides, the rest get 409", async () => {
    const { approval_id } = await openWrite();
    const sessions = [await signIn(broker, ALICE), await signIn(broker, ALICE)];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        decide(broker, sessions[i % 2], approval_id, i % 2 === 0 ? "approve" : "deny"),
      ),
    );
    const won = results.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
    const [decision] = decisionsOf(broker, approval_id);
    expect(decisionsOf(broker, approval_id)).toHaveLength(1);
    const state = await approvalState(broker, approval_id);
    expect(decision).toMatchObject({ decision: state });
    expect(won[0]?.text).toContain(`You ${state} request`);
  });
});

describe("denied and expired approvals", () => {
  it("after a denial: access_denied, every time, and it cannot be decided again", async () => {
    const { approval_id } = await openWrite();
    await decideAs(broker, ALICE, approval_id, "deny");
    for (let i = 0; i < 2; i++)
      await expectRefused(
        broker,
        exchange(broker, writeCalendar({ approval_id }), "orchestrator"),
        400,
        "access_denied",
      );
    const res = await decide(broker, await signIn(broker, ALICE), approval_id, "approve");
    expect(res.status).toBe(409);
    expect(await approvalState(broker, approval_id)).toBe("denied");
    expect(decisionsOf(broker, approval_id)).toHaveLength(1);
  });

  it("after its lifetime (approval_ttl): expired_token, and no one can decide it any more", async () => {
    const { approval_id } = await openWrite();
    const session = await signIn(broker, ALICE);
    broker.clock.advance(broker.policy.broker.approvalTtl);
    expect(await approvalState(broker, approval_id)).toBe("expired");
    await expectRefused(
      broker,
      exchange(broker, writeCalendar({ approval_id }), "orchestrator"),
      400,
      "expired_token",
    );
    expect((await getPage(broker, "/approvals", session)).html).not.toContain(approval_id);
    expect((await decide(broker, session, approval_id, "approve")).status).toBe(409);
    await expect(
      decideApproval(broker.deps, approval_id, "approved", { operator: true }, "cli"),
    ).rejects.toMatchObject({ status: 409 });
    await expectRefused(
      broker,
      exchange(broker, writeCalendar({ approval_id }), "orchestrator"),
      400,
      "expired_token",
    );
    expect(decisionsOf(broker, approval_id)).toEqual([]);
  });

  it("the default lifetime is 10 minutes: one second before, it can still be approved", async () => {
    expect(broker.policy.broker.approvalTtl).toBe(600);
    const { approval_id } = await openWrite();
    broker.clock.advance(599);
    await decideAs(broker, ALICE, approval_id, "approve");
    await expectIssued(broker, exchange(broker, writeCalendar({ approval_id }), "orchestrator"));
  });
});

describe("the page's defences", () => {
  it("CSRF: no csrf field, a wrong or another session's token, a foreign or no Origin, no cookie → 403, nothing changes", async () => {
    const { approval_id } = await openWrite();
    const session = await signIn(broker, ALICE);
    const other = await signIn(broker, ALICE);
    const attempts: [string, Parameters<typeof decide>[4]][] = [
      ["no csrf field", { csrf: null }],
      ["a wrong csrf token", { csrf: "x".repeat(43) }],
      ["another session's csrf token", { csrf: other.csrf }],
      ["a foreign Origin", { origin: "http://evil.example" }],
      ["a look-alike Origin", { origin: `${broker.issuer}.evil.example` }],
      ["Origin: null", { origin: "null" }],
      ["no Origin", { origin: null }],
      ["no cookie", { cookie: null }],
    ];
    for (const [what, options] of attempts) {
      for (const decision of ["approve", "deny"] as const) {
        const res = await decide(broker, session, approval_id, decision, options);
        expect(res.status, what).toBe(403);
        expectPageHeaders(res.headers, what);
      }
    }
    expect(await approvalState(broker, approval_id)).toBe("pending");
    expect(decisionsOf(broker, approval_id)).toEqual([]);
    // Logging out is guarded the same way: a forged post leaves the session signed in.
    expect((await postPage(broker, "/approvals/logout", session, {}, { csrf: null })).status).toBe(
      403,
    );
    expect(
      (await postPage(broker, "/approvals/logout", session, {}, { origin: "http://evil.example" }))
        .status,
    ).toBe(403);
    expect(csrfOf((await getPage(broker, "/approvals", session)).html)).toBe(session.csrf);
    // The very same form, from our Origin and with the session's token, goes through.
    expect((await decide(broker, session, approval_id, "approve")).status).toBe(200);
  });

  it("a sign-in with a token needs our Origin too", async () => {
    const token = await broker.devToken(ALICE, { for: "approvals" });
    for (const origin of ["http://evil.example", null]) {
      const res = await postPage(broker, "/approvals/login", undefined, { token }, { origin });
      expect(res.status).toBe(403);
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("every /approvals response sends frame-ancestors 'none', X-Frame-Options DENY and no-store", async () => {
    const { approval_id } = await openWrite();
    const link = await loginLink(broker, ALICE);
    const login = await followLogin(link);
    expect(login.res.status).toBe(303);
    expectPageHeaders(login.res.headers, "GET /approvals/login (signs in)");
    const session = await signIn(broker, ALICE);
    const token = await broker.devToken(ALICE, { for: "approvals" });
    const pages: [string, Headers | Record<string, unknown>][] = [
      ["GET /approvals (signed out)", (await getPage(broker, "/approvals")).headers],
      ["GET /approvals (signed in)", (await getPage(broker, "/approvals", session)).headers],
      [
        "GET /approvals/{id}",
        (await getPage(broker, `/approvals/${approval_id}`, session)).headers,
      ],
      [
        "GET /approvals/{unknown}",
        (await getPage(broker, "/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA", session)).headers,
      ],
      [
        "GET /approvals/{id} (signed out)",
        (await getPage(broker, `/approvals/${approval_id}`)).headers,
      ],
      [
        "GET /approvals/login (used link)",
        (await getPage(broker, new URL(link).pathname + new URL(link).search)).headers,
      ],
      ["GET /approvals/login (no token)", (await getPage(broker, "/approvals/login")).headers],
      [
        "POST /approvals/login (token)",
        (await postPage(broker, "/approvals/login", undefined, { token })).headers,
      ],
      [
        "POST /approvals/login (bad token)",
        (await postPage(broker, "/approvals/login", undefined, { token: "x" })).headers,
      ],
      [
        "POST /approvals/{id}/decide (bad decision)",
        (await postPage(broker, `/approvals/${approval_id}/decide`, session, { decision: "maybe" }))
          .headers,
      ],
      [
        "POST /approvals/{id}/decide (approve)",
        (await decide(broker, session, approval_id, "approve")).headers,
      ],
      [
        "POST /approvals/{id}/decide (again)",
        (await decide(broker, session, approval_id, "deny")).headers,
      ],
      ["POST /approvals/logout", (await postPage(broker, "/approvals/logout", session)).headers],
    ];
    for (const [what, headers] of pages) expectPageHeaders(headers, what);
    // No script at all on the page.
    const csp = (await getPage(broker, "/approvals")).headers.get("content-security-policy");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src/);
  });

  it("the security headers are exactly these, and none of secureHeaders' other defaults", async () => {
    const { approval_id } = await openWrite();
    const session = await signIn(broker, ALICE);
    const responses: [string, Headers | Record<string, unknown>][] = [
      ["GET /approvals (signed out)", (await getPage(broker, "/approvals")).headers],
      [
        "GET /approvals/{id}",
        (await getPage(broker, `/approvals/${approval_id}`, session)).headers,
      ],
      ["GET /approvals/login (no token)", (await getPage(broker, "/approvals/login")).headers],
      ["a sign-in's 303", (await followLogin(await loginLink(broker, ALICE))).res.headers],
      ["POST /approvals/{id}/decide", (await decide(broker, session, approval_id, "deny")).headers],
    ];
    const exact = {
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin",
      "cache-control": "no-store",
    };
    const absent = [
      "strict-transport-security",
      "cross-origin-opener-policy",
      "cross-origin-resource-policy",
      "cross-origin-embedder-policy",
      "origin-agent-cluster",
      "x-dns-prefetch-control",
      "x-download-options",
      "x-permitted-cross-domain-policies",
      "x-xss-protection",
      "permissions-policy",
      "pragma",
    ];
    for (const [what, headers] of responses) {
      const get = (name: string) =>
        headers instanceof Headers ? headers.get(name) : (headers[name] as string | undefined);
      for (const [name, value] of Object.entries(exact))
        expect(get(name), `${what}: ${name}`).toBe(value);
      for (const name of absent) expect(get(name) ?? undefined, `${what}: ${name}`).toBeUndefined();
    }
    // The agents' JSON endpoint under /approvals is not a page: it keeps its own headers.
    const status = await broker.post(`/approvals/${approval_id}/status`, {}, "orchestrator");
    expect(status.headers.get("cache-control")).toBe("no-store");
    expect(status.headers.get("pragma")).toBe("no-cache");
    expect(status.headers.get("content-security-policy")).toBeNull();
    expect(status.headers.get("x-frame-options")).toBeNull();
  });

  it("the login cookie is __Host- prefixed, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain", async () => {
    const { setCookie } = await signIn(broker, ALICE);
    const [pair, ...attributes] = setCookie.split(";").map((s) => s.trim());
    expect(pair).toMatch(/^__Host-[\w-]+=[A-Za-z0-9_-]{20,}$/);
    const attrs = attributes.map((a) => a.toLowerCase());
    expect(attrs).toContain("secure");
    expect(attrs).toContain("httponly");
    expect(attrs).toContain("samesite=strict");
    expect(attrs).toContain("path=/");
    expect(attrs.some((a) => a.startsWith("domain"))).toBe(false);
  });

  it("a login link works once only", async () => {
    const link = await loginLink(broker, ALICE);
    expect(link).toMatch(new RegExp(`^${broker.issuer}/approvals/login\\?token=[\\w-]{20,}$`));
    const first = await followLogin(link);
    expect(first.res.status).toBe(303);
    expect(first.res.headers.get("location")).toBe("/approvals");
    expect(first.setCookie).toMatch(/^__Host-/);
    const second = await followLogin(link);
    expect(second.res.status).toBe(400);
    expect(second.setCookie).toBeUndefined();
    expect(await second.res.text()).toContain("That link is not valid");
    // Concurrent uses of a fresh link: one session, never two.
    const fresh = await loginLink(broker, ALICE);
    const racing = await Promise.all(Array.from({ length: 10 }, () => followLogin(fresh)));
    expect(racing.filter((r) => r.res.status === 303)).toHaveLength(1);
    expect(racing.filter((r) => r.setCookie !== undefined)).toHaveLength(1);
  });

  it("signing out ends the session: its cookie no longer signs anyone in", async () => {
    const { approval_id } = await openWrite();
    const session = await signIn(broker, ALICE);
    const res = await postPage(broker, "/approvals/logout", session);
    expect(res.status).toBe(303);
    const page = await getPage(broker, "/approvals", session);
    expect(page.html).toContain("Sign in to decide");
    expect(csrfOf(page.html)).toBeUndefined();
    expect((await decide(broker, session, approval_id, "approve")).status).toBe(403);
    expect(await approvalState(broker, approval_id)).toBe("pending");
  });

  it("the agent's stated reason is shown escaped, never as markup", async () => {
    const reason = `<script>alert(1)</script> "quoted" & 'single' <img src=x onerror=alert(2)>`;
    const { approval_id } = await openWrite({ reason });
    const session = await signIn(broker, ALICE);
    const escaped =
      "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; &#39;single&#39; &lt;img src=x onerror=alert(2)&gt;";
    const shown = [
      (await getPage(broker, "/approvals", session)).html,
      (await getPage(broker, `/approvals/${approval_id}`, session)).html,
      (await decide(broker, session, approval_id, "approve")).text,
    ];
    for (const html of shown) {
      expect(html).toContain(escaped);
      expect(html).not.toContain("<script");
      expect(html).not.toContain("<img");
    }
  });
});

describe("every value the page shows is text, never markup", () => {
  /** Markup in every character that matters, and what hono's `html` template makes of it. */
  const MARKUP = `<b>x</b>"'&`;
  const ESCAPED = "&lt;b&gt;x&lt;/b&gt;&quot;&#39;&amp;";

  it("the reason, the scope's description, the user and the API's resource: escaped everywhere shown", async () => {
    await boot({
      editPolicy: (data) => {
        withApproverGroup(data);
        data.apis.calendar.scopes["calendar.write"].description = `Change ${MARKUP}`;
        data.apis.calendar.resource = `https://calendar.example.com/?q=${MARKUP}`;
      },
    });
    const person = `mallory${MARKUP}@example.com`;
    const token = await broker.devToken(person);
    const { approval_id } = await requestApproval(
      broker,
      "orchestrator",
      accessRequest(token, "calendar", "calendar.write", { reason: `Because ${MARKUP}` }),
    );
    const session = await signIn(broker, person);
    const list = (await getPage(broker, "/approvals", session)).html;
    const one = (await getPage(broker, `/approvals/${approval_id}`, session)).html;
    const decided = (await decide(broker, session, approval_id, "approve")).text;
    for (const [what, html] of [
      ["the list", list],
      ["the request", one],
      ["the decision", decided],
    ] as const) {
      expect(html, what).toContain(`<p class="reason">Because ${ESCAPED}</p>`);
      expect(html, what).toContain(`<code>calendar.write</code> Change ${ESCAPED}</li>`);
      expect(html, what).toContain(`<dd><code>mallory${ESCAPED}@example.com</code></dd>`);
      expect(html, what).toContain(`https://calendar.example.com/?q=${ESCAPED}</span>`);
      // The signed-in person, beside Sign out.
      expect(html, what).toContain(`<span>mallory${ESCAPED}@example.com</span>`);
      expect(html, what).not.toContain("<b>");
    }
    // Decided by that person: the record's state line shows the name as text too.
    expect(decided).toContain(`<strong>approved</strong> by mallory${ESCAPED}@example.com</p>`);
  });
});

describe("a per-agent cap on open approvals", () => {
  it("past max_open_approvals within approval_ttl: 429 slow_down with Retry-After", async () => {
    const max = broker.policy.broker.maxOpenApprovals;
    expect(max).toBe(10);
    const ids: string[] = [];
    // Distinct requests (an identical one would get the same pending approval back).
    for (let i = 0; i < max; i++)
      ids.push((await openWrite({ ttl_seconds: `${60 + i}` })).approval_id);
    const { res } = await expectRefused(
      broker,
      exchange(broker, writeCalendar(), "orchestrator"),
      429,
      "slow_down",
    );
    expect(res.headers.get("retry-after")).toBe(String(broker.policy.broker.approvalTtl));
    expect(broker.events.filter((e) => e.type === "approval.requested")).toHaveLength(max);
    // A task with an elevated ceiling opens an approval too: capped the same way.
    const task = await postTask(broker, "orchestrator", alice, {
      scope: "calendar.read calendar.write",
    });
    expect(task.status).toBe(429);
    expect(((await task.json()) as { error: string }).error).toBe("slow_down");

    // Redeeming an approval opens none: it still works under the cap.
    await decideAs(broker, ALICE, ids[0] as string, "approve");
    await expectIssued(
      broker,
      exchange(
        broker,
        writeCalendar({ approval_id: ids[0] as string, ttl_seconds: "60" }),
        "orchestrator",
      ),
    );
    // The cap is per agent: another agent may still ask.
    await requestApproval(broker, "flight-booker", accessRequest(alice, "flights", "flights.book"));
  });
});

describe("sign-in with an OpenID Provider: when it cannot happen", () => {
  it("not set up: 404, and the sign-in page shows no provider button", async () => {
    const res = await getPage(broker, "/approvals/login/oidc");
    expect(res.status).toBe(404);
    expect(res.html).toContain("Sign-in with an identity provider is not set up.");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect((await getPage(broker, "/approvals")).html).not.toContain("/approvals/login/oidc");
  });

  it("a provider that does not answer: 503 with fixed text, no state cookie, logged once", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    await boot({
      editPolicy: (data) => {
        data.broker.approval_login = { issuer: closed, client_id: "baton" };
      },
    });
    const signedOut = await getPage(broker, "/approvals");
    expect(signedOut.html).toContain(
      `href="/approvals/login/oidc?next=%2Fapprovals">Sign in with ${new URL(closed).host}`,
    );
    const res = await getPage(broker, "/approvals/login/oidc?next=/approvals");
    expect(res.status).toBe(503);
    expect(res.html).toContain("The identity provider cannot be reached now. Try again later.");
    expect(res.headers.get("set-cookie")).toBeNull();
    expectPageHeaders(res.headers, "GET /approvals/login/oidc (provider down)");
    const logged = broker.failures.filter((f) => f.endpoint === "approvals.login");
    expect(logged).toHaveLength(1);
    // Name and message only: a provider's response (its tokens) never reaches the log.
    const err = logged.map((f) => f.err)[0];
    expect((err as Error).message).toMatch(/^approval sign-in at the identity provider failed: /);
    expect((err as Error).cause).toBeUndefined();

    // A callback without this browser's state cookie opens no session (no login CSRF).
    const callback = await getPage(
      broker,
      `/approvals/login/callback?code=abc&state=${"A".repeat(43)}`,
    );
    expect(callback.status).toBe(400);
    expect(callback.html).toContain("That sign-in was not started in this browser.");
    expect(
      callback.headers.getSetCookie().filter((c) => c.startsWith("__Host-baton-approver=")),
    ).toEqual([]);
  });
});

describe("the approval webhook", () => {
  async function bootWithHook(hook: Collector): Promise<void> {
    extra.push(hook);
    await boot({
      editPolicy: (data) => {
        data.broker.approval_webhook = `${hook.url}/hook`;
      },
    });
  }

  it("fires once per new approval, with the grant and without any token", async () => {
    const hook = await startCollector();
    await bootWithHook(hook);
    const pending = await openWrite({ reason: "the offsite" });
    await vi.waitFor(() => expect(hook.received).toHaveLength(1));
    const [first] = hook.received;
    expect(first?.method).toBe("POST");
    expect(first?.path).toBe("/hook");
    expect(first?.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(first?.text ?? "")).toEqual({
      type: "approval.requested",
      approval_id: pending.approval_id,
      approval_uri: pending.approval_uri,
      subject: ALICE,
      chain: ["orchestrator"],
      target: "calendar",
      scopes: ["calendar.write"],
      approvers: ["subject"],
      expires_at: broker.clock.now() + broker.policy.broker.approvalTtl,
      reason: "the offsite",
    });

    // Polling, deciding and redeeming open nothing new: no more posts.
    const retry = writeCalendar({ approval_id: pending.approval_id });
    await expectPending(broker, exchange(broker, retry, "orchestrator"));
    await decideAs(broker, ALICE, pending.approval_id, "approve");
    await expectIssued(broker, exchange(broker, retry, "orchestrator"));
    // A task's standing approval is a new approval: one more post.
    const task = await startTask(broker, "orchestrator", alice, {
      scope: "calendar.read calendar.write",
    });
    await vi.waitFor(() => expect(hook.received).toHaveLength(2));
    expect(JSON.parse(hook.received[1]?.text ?? "")).toMatchObject({
      approval_id: task.approval_id,
      target: "ceiling",
      scopes: ["calendar.read", "calendar.write"],
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hook.received).toHaveLength(2);

    for (const { text, headers } of hook.received) {
      expect(text).not.toMatch(/eyJ[\w-]+\.eyJ/);
      expect(text).not.toContain(alice);
      expect(headers.authorization).toBeUndefined();
    }
  });

  it("a webhook that never answers does not hold up the agent", async () => {
    const hook = await startCollector({ hang: true });
    await bootWithHook(hook);
    const started = Date.now();
    await openWrite();
    expect(Date.now() - started).toBeLessThan(2000);
    await vi.waitFor(() => expect(hook.received).toHaveLength(1));
  });
});

describe("POST /approvals/{id}/status", () => {
  const status = (id: string, agent?: string) => broker.post(`/approvals/${id}/status`, {}, agent);

  it("shows the requesting agent its approval, and no one else", async () => {
    const { approval_id } = await openWrite({ reason: "offsite" });
    const res = await status(approval_id, "orchestrator");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({
      approval_id,
      status: "pending",
      approval_uri: `${broker.issuer}/approvals/${approval_id}`,
      subject: ALICE,
      chain: ["orchestrator"],
      target: "calendar",
      scopes: ["calendar.write"],
      scope_descriptions: { "calendar.write": "Change events" },
      expires_in: 600,
      reason: "offsite",
    });

    await expectRefused(broker, status(approval_id, "flight-booker"), 400, "invalid_request");
    await expectRefused(broker, status(approval_id), 401, "invalid_client");
    await expectRefused(
      broker,
      status("apr_AAAAAAAAAAAAAAAAAAAAAA", "orchestrator"),
      400,
      "invalid_request",
    );
    await expectRefused(broker, status("not-an-id", "orchestrator"), 400, "invalid_request");

    await decideAs(broker, ALICE, approval_id, "approve");
    expect(await (await status(approval_id, "orchestrator")).json()).toMatchObject({
      status: "approved",
    });
    // Looking never consumes: the approval still redeems once.
    await expectIssued(broker, exchange(broker, writeCalendar({ approval_id }), "orchestrator"));
  });

  it("reports denied and expired", async () => {
    const denied = await openWrite();
    await decideAs(broker, ALICE, denied.approval_id, "deny");
    const expired = await openWrite();
    broker.clock.advance(broker.policy.broker.approvalTtl);
    for (const [id, state] of [
      [denied.approval_id, "denied"],
      [expired.approval_id, "expired"],
    ] as const)
      expect(await (await status(id, "orchestrator")).json()).toMatchObject({
        status: state,
        expires_in: 0,
      });
  });
});

describe("a standing approval of a task's ceiling", () => {
  const ceiling = "calendar.read calendar.write";

  it("approval_required until approved; then the task's elevated grants need no other approval", async () => {
    const task = await startTask(broker, "orchestrator", alice, { scope: ceiling });
    expect(task).toMatchObject({
      status: "approval_required",
      approval_id: expect.stringMatching(/^apr_/),
    });
    const enter = (scope: string) =>
      exchange(
        broker,
        accessRequest(alice, "calendar", scope, { task_id: task.task_id }),
        "orchestrator",
      );

    // Entering before the approval: pending, on the task's own approval; nothing issued.
    for (const scope of ["calendar.read", "calendar.write"]) {
      const pending = await expectPending(broker, enter(scope));
      expect(pending.approval_id).toBe(task.approval_id);
    }
    const requested = () => broker.events.filter((e) => e.type === "approval.requested").length;
    expect(requested()).toBe(1);

    // The approver sees a task approval with its whole ceiling.
    const session = await signIn(broker, ALICE);
    const card = (await getPage(broker, `/approvals/${task.approval_id}`, session)).html;
    expect(card).toContain("a task (its ceiling)");
    expect(card).toContain("<code>calendar.read</code>");
    expect(card).toContain("<code>calendar.write</code>");
    const res = await decide(broker, session, task.approval_id as string, "approve");
    expect(res.status).toBe(200);

    // Standing: several elevated grants in the task, each issued at once, no new approval.
    for (let i = 0; i < 3; i++) {
      const issued = await expectIssued(broker, enter("calendar.write"));
      expect(issued.claims).toMatchObject({ txn: task.task_id, scope: "calendar.write" });
    }
    await expectIssued(broker, enter("calendar.read"));
    expect(requested()).toBe(1);
    const view = await postWhoami(broker, "orchestrator", alice, task.task_id);
    expect(((await view.json()) as { task: { status: string } }).task.status).toBe("active");

    // Outside the task, the same grant still waits for its own approval.
    await expectPending(broker, exchange(broker, writeCalendar(), "orchestrator"));
    // The task's approval is not a per-request approval: it covers no grant outside the task.
    await expectRefused(
      broker,
      exchange(broker, writeCalendar({ approval_id: task.approval_id as string }), "orchestrator"),
      400,
      "invalid_request",
    );
  });

  it("a denied task approval: entering the task gives access_denied", async () => {
    const task = await startTask(broker, "orchestrator", alice, { scope: ceiling });
    await decideAs(broker, ALICE, task.approval_id as string, "deny");
    await expectRefused(
      broker,
      exchange(
        broker,
        accessRequest(alice, "calendar", "calendar.read", { task_id: task.task_id }),
        "orchestrator",
      ),
      400,
      "access_denied",
    );
  });
});
