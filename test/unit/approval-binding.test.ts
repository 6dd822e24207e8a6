/**
 * Rule 6: an approval covers the exact request (subject, requesting client, chain, API,
 * scopes, ttl, task) and is consumed once. First `grantDigest` on its own: any field changed,
 * another digest. Then the binding where it is enforced: an approval opened and decided on a
 * real in-memory store, redeemed by `requireApproval` with the same grant (covered, once) and
 * with each field changed (not covered, and not consumed either). Time is a fixed clock.
 */

import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApprovalGrant, grantDigest } from "../../src/approvals/approval-store.js";
import { memoryAuditLog } from "../../src/audit/audit-log.js";
import { fixedClock } from "../../src/clock.js";
import { decideApproval } from "../../src/exchange/operations/decide-approval.js";
import { approversFor, openApproval, requireApproval } from "../../src/exchange/steps/approval.js";
import type { ExchangeDeps } from "../../src/exchange/types.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { openKeyRing } from "../../src/tokens/key-ring.js";
import {
  asyncRefusalOf,
  ISSUER,
  NOW,
  plannerPolicy,
  type Refusal,
  USER,
} from "./planner-fixtures.js";

// Every case below opens approvals for the same agent: the per-agent cap is not the subject here.
const policy = plannerPolicy((d) => {
  d.broker.max_open_approvals = 1000;
});

const GRANT: ApprovalGrant = {
  kind: "access",
  subject: USER,
  client: "flight-booker",
  chain: ["flight-booker", "orchestrator"],
  target: "flights",
  scopes: ["flights.book", "flights.search"],
  ttl: 600,
  task: "tsk_one",
};

/** Each field of the grant changed in one way: every one must be a different request. */
const CHANGES: [string, Partial<ApprovalGrant>][] = [
  ["the kind (a task approval is not an access grant)", { kind: "task" }],
  ["the subject", { subject: "bob@example.com" }],
  ["the subject, by case only", { subject: "Alice@example.com" }],
  ["the requesting client", { client: "researcher" }],
  ["the chain: one more agent", { chain: ["flight-booker", "orchestrator", "researcher"] }],
  ["the chain: one agent fewer", { chain: ["flight-booker"] }],
  ["the chain: the same agents in another order", { chain: ["orchestrator", "flight-booker"] }],
  ["the chain: none (impersonation)", { chain: [] }],
  ["the API", { target: "calendar" }],
  ["the scopes: one fewer", { scopes: ["flights.book"] }],
  ["the scopes: one more", { scopes: ["flights.book", "flights.search", "docs.read"] }],
  ["the scopes: another one", { scopes: ["flights.book", "docs.read"] }],
  ["the ttl: one second more", { ttl: 601 }],
  ["the ttl: none named", { ttl: null }],
  ["the task: another", { task: "tsk_two" }],
  ["the task: none", { task: null }],
];

describe("grantDigest: what an approval binds (rule 6)", () => {
  it("the same grant, the same digest: a SHA-256 in base64url", () => {
    const digest = grantDigest(GRANT);
    expect(digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(grantDigest({ ...GRANT, chain: [...GRANT.chain], scopes: [...GRANT.scopes] })).toBe(
      digest,
    );
  });

  it("scopes are a set: their order does not make another request", () => {
    expect(grantDigest({ ...GRANT, scopes: ["flights.search", "flights.book"] })).toBe(
      grantDigest(GRANT),
    );
  });

  it("the digest does not sort the grant's own scopes in place", () => {
    const scopes = ["flights.search", "flights.book"];
    grantDigest({ ...GRANT, scopes });
    expect(scopes).toEqual(["flights.search", "flights.book"]);
  });

  it.each(CHANGES)("rule 6: a change of %s changes the digest", (_, change) => {
    expect(grantDigest({ ...GRANT, ...change })).not.toBe(grantDigest(GRANT));
  });

  it("rule 6: every change gives its own digest (no two changed requests collide)", () => {
    const digests = CHANGES.map(([, change]) => grantDigest({ ...GRANT, ...change }));
    expect(new Set([grantDigest(GRANT), ...digests]).size).toBe(CHANGES.length + 1);
  });

  it("rule 6: field boundaries hold: text moved from one field to the next is another request", () => {
    const a = grantDigest({ ...GRANT, chain: ["a,b"], scopes: ["c"] });
    const b = grantDigest({ ...GRANT, chain: ["a", "b"], scopes: ["c"] });
    const c = grantDigest({ ...GRANT, chain: ["a"], scopes: ["b", "c"] });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(grantDigest({ ...GRANT, subject: "x", client: "y" })).not.toBe(
      grantDigest({ ...GRANT, subject: "xy", client: "" }),
    );
  });

  it("rule 6: a ttl of 0 is not 'no ttl named'", () => {
    expect(grantDigest({ ...GRANT, ttl: 0 })).not.toBe(grantDigest({ ...GRANT, ttl: null }));
  });
});

/** A task approval: the ceiling, and every agent it covers (policy/delegation-reach.ts). */
const TASK_GRANT: ApprovalGrant = {
  kind: "task",
  subject: USER,
  client: "orchestrator",
  chain: ["orchestrator"],
  target: "book-trip",
  scopes: ["flights.search", "flights.book", "calendar.read"],
  ttl: null,
  task: null,
  covers: [
    { agent: "orchestrator", scopes: ["flights.book"], delegated: false },
    { agent: "flight-booker", scopes: ["flights.book"], delegated: true },
  ],
};

const COVER_CHANGES: [string, ApprovalGrant["covers"]][] = [
  ["one agent fewer", TASK_GRANT.covers?.slice(0, 1)],
  [
    "one agent more",
    [
      ...(TASK_GRANT.covers ?? []),
      { agent: "researcher", scopes: ["flights.book"], delegated: true },
    ],
  ],
  [
    "another scope for a delegate",
    [
      { agent: "orchestrator", scopes: ["flights.book", "calendar.write"], delegated: false },
      { agent: "flight-booker", scopes: ["flights.book", "calendar.write"], delegated: true },
    ],
  ],
  ["none named", undefined],
];

describe("grantDigest: a task approval binds whom it covers (rule 6)", () => {
  it.each(COVER_CHANGES)("the covered set changed (%s): another request", (_, covers) => {
    const { covers: _old, ...rest } = TASK_GRANT;
    const changed = covers === undefined ? rest : { ...rest, covers };
    expect(grantDigest(changed)).not.toBe(grantDigest(TASK_GRANT));
  });

  it("a delegate's scopes are a set, like the grant's", () => {
    const opener = { agent: "orchestrator", scopes: ["flights.book"], delegated: false };
    const wide = { agent: "flight-booker", scopes: ["a.b", "flights.book"], delegated: true };
    const reordered = { ...wide, scopes: ["flights.book", "a.b"] };
    expect(grantDigest({ ...TASK_GRANT, covers: [opener, wide] })).toBe(
      grantDigest({ ...TASK_GRANT, covers: [opener, reordered] }),
    );
  });

  it("a grant that names no covered set keeps the digest it had before there was one", () => {
    // The canonical form of the eight fields alone: access approvals (and task approvals opened
    // before this change) are still found by the digest they were opened under.
    const before = createHash("sha256")
      .update(
        JSON.stringify([
          GRANT.kind,
          GRANT.subject,
          GRANT.client,
          GRANT.chain,
          GRANT.target,
          [...GRANT.scopes].sort(),
          GRANT.ttl,
          GRANT.task,
        ]),
      )
      .digest("base64url");
    expect(grantDigest(GRANT)).toBe(before);
  });
});

describe("approversFor: who must approve a grant (rule 6)", () => {
  it.each([
    ["no elevated scope", ["flights.search", "docs.read"], []],
    ["a scope the subject approves", ["flights.search", "flights.book"], ["subject"]],
    ["two such scopes: the subject once", ["flights.book", "calendar.write"], ["subject"]],
    ["a group's scope", ["docs.admin"], ["admins"]],
    ["both, sorted", ["docs.admin", "calendar.write"], ["admins", "subject"]],
    ["a scope the policy does not know", ["nope"], []],
  ])("%s", (_, scopes, approvers) => {
    expect(approversFor(policy, scopes)).toEqual(approvers);
  });
});

describe("requireApproval: the approval covers the exact request, once (rule 6)", () => {
  const clock = fixedClock(NOW);
  let store: Store;
  let deps: ExchangeDeps;
  const audit = memoryAuditLog();

  beforeAll(async () => {
    store = await openKeyvStore("memory://", { clock });
    deps = {
      issuer: ISSUER,
      active: () => ({ policy, issuerVerifiers: new Map() }),
      keys: await openKeyRing(store, policy.broker.signingAlg, clock, policy.broker.maxTtl),
      store,
      audit,
      clock,
    };
  });
  afterAll(() => store.close());

  /** A grant without a task (a task grant's approval is the task's), approved by its user. */
  const grant: ApprovalGrant = { ...GRANT, task: null };
  async function approved(): Promise<string> {
    const record = await openApproval(
      deps,
      { grant, approvers: ["subject"], agent: grant.client },
      clock.now(),
    );
    await decideApproval(deps, record.id, "approved", { person: USER }, "cli");
    return record.id;
  }

  const redeem = (approvalId: string | undefined, change: Partial<ApprovalGrant> = {}) =>
    requireApproval(
      deps,
      {
        grant: { ...grant, ...change },
        approvers: ["subject"],
        agent: grant.client,
        ...(approvalId === undefined ? {} : { approvalId }),
      },
      clock.now(),
    );

  it("without an approval id: opens one and answers authorization_pending; asked again while it is pending, the same one (design §3.5)", async () => {
    const before = audit.events.length;
    const pendingId = () =>
      redeem(undefined).then(
        () => undefined,
        (e: unknown) => (e as Refusal & { extra: Record<string, unknown> }).extra.approval_id,
      );
    const first = await pendingId();
    expect(await asyncRefusalOf(() => redeem(undefined))).toEqual({
      code: "authorization_pending",
      status: 400,
      rule: "approval.pending",
    });
    expect(first).toMatch(/^apr_/);
    expect(await pendingId()).toBe(first);
    expect(audit.events.slice(before).map((e) => e.type)).toEqual(["approval.requested"]);
  });

  /** The changes that are changes of this grant (its task is already none). */
  const changesOfARequest = CHANGES.filter(
    ([, change]) => grantDigest({ ...grant, ...change }) !== grantDigest(grant),
  );

  it.each(changesOfARequest)(
    "rule 6: an approved request with %s changed is not covered: invalid_request, approval.mismatch, and the approval stays unused",
    async (_, change) => {
      const id = await approved();
      expect(await asyncRefusalOf(() => redeem(id, change))).toEqual({
        code: "invalid_request",
        status: 400,
        rule: "approval.mismatch",
      });
      // Not consumed by the refusal: the exact request still redeems it.
      await expect(redeem(id)).resolves.toBeUndefined();
    },
  );

  it("rule 6: the exact request redeems it once; the second time it is used", async () => {
    const id = await approved();
    await expect(redeem(id)).resolves.toBeUndefined();
    expect(await asyncRefusalOf(() => redeem(id))).toEqual({
      code: "invalid_request",
      status: 400,
      rule: "approval.used",
    });
  });

  it("rule 6: a pending approval is not yet an approval; a denied one is access_denied", async () => {
    const record = await openApproval(
      deps,
      { grant, approvers: ["subject"], agent: grant.client },
      clock.now(),
    );
    expect((await asyncRefusalOf(() => redeem(record.id))).rule).toBe("approval.pending");
    await decideApproval(deps, record.id, "denied", { person: USER }, "cli");
    expect(await asyncRefusalOf(() => redeem(record.id))).toEqual({
      code: "access_denied",
      status: 400,
      rule: "approval.denied",
    });
  });

  it("rule 6: an approved approval not redeemed within approval_ttl has expired", async () => {
    const id = await approved();
    clock.advance(policy.broker.approvalTtl);
    expect(await asyncRefusalOf(() => redeem(id))).toEqual({
      code: "expired_token",
      status: 400,
      rule: "approval.expired",
    });
  });
});
