/**
 * Issue 8: the delegation tree of a task, built from audit events alone (src/audit/task-tree.ts).
 * Nesting by `parent_jti`, status by design §4 rule 7 (revoking a token, or ending the task,
 * makes everything derived from it inactive), expiry against the `now` passed in, and events
 * of other tasks left out.
 */

import { describe, expect, it } from "vitest";
import type { ExchangeIssued } from "../../src/audit/events.js";
import {
  buildTaskTree,
  type LoggedEvent,
  type TokenNode,
  taskEventFilter,
  walkTokens,
} from "../../src/audit/task-tree.js";

const T0 = 1_795_780_800;
const TASK = "tsk_AAAAAAAAAAAAAAAAAAAAAA";
const OTHER = "tsk_BBBBBBBBBBBBBBBBBBBBBB";

const started = (task = TASK, ts = T0): LoggedEvent => ({
  ts,
  type: "task.started",
  task,
  agent: "orchestrator",
  subject: "alice@example.com",
  ceiling: ["calendar.read", "flights.search", "flights.book"],
  deadline: T0 + 1800,
  max_tokens: 50,
  purpose: "Book Alice's Berlin trip",
});

/** An `exchange.issued` in `TASK`: by default the orchestrator's calendar token. */
const issued = (
  jti: string,
  ts: number,
  extra: Partial<Omit<ExchangeIssued, "type" | "jti">> = {},
): LoggedEvent => ({
  ts,
  type: "exchange.issued",
  subject: "alice@example.com",
  chain: ["orchestrator"],
  agent: "orchestrator",
  kind: "access",
  audience: "calendar",
  scopes: ["calendar.read"],
  jti,
  parent_jti: "dev-jti",
  exp: T0 + 600,
  txn: TASK,
  ...extra,
});

const delegation = (jti: string, ts: number, extra: Partial<ExchangeIssued> = {}) =>
  issued(jti, ts, {
    kind: "delegation",
    audience: "flight-booker",
    scopes: ["flights.search", "flights.book"],
    ...extra,
  });

const bookerToken = (jti: string, parent: string, ts: number, scope = "flights.search") =>
  issued(jti, ts, {
    agent: "flight-booker",
    chain: ["flight-booker", "orchestrator"],
    audience: "flights",
    scopes: [scope],
    parent_jti: parent,
  });

const revoked = (jti: string, ts: number): LoggedEvent => ({
  ts,
  type: "token.revoked",
  jti,
  by: "orchestrator",
});

/** jti → status, over the whole tree. */
const statuses = (roots: readonly TokenNode[]) =>
  Object.fromEntries([...walkTokens(roots)].map((n) => [n.jti, n.status]));

/** The story: a calendar token, a delegation to flight-booker, two tokens under it. */
const story = (): LoggedEvent[] => [
  started(),
  issued("cal", T0 + 10),
  delegation("del", T0 + 20),
  bookerToken("search", "del", T0 + 30),
  bookerToken("book", "del", T0 + 40, "flights.book"),
];

describe("issue 8: the task tree from audit events", () => {
  it("nests each token under the token it was exchanged from, in issue order", () => {
    const tree = buildTaskTree(story(), TASK, T0 + 60);
    expect(tree?.task).toEqual({
      id: TASK,
      purpose: "Book Alice's Berlin trip",
      agent: "orchestrator",
      subject: "alice@example.com",
      ceiling: ["calendar.read", "flights.search", "flights.book"],
      deadline: T0 + 1800,
      maxTokens: 50,
      startedAt: T0,
      status: "open",
    });
    expect(tree?.tokens).toBe(4);
    const roots = tree?.roots ?? [];
    // The opener's tokens come from the user's token (outside the task): they are the roots.
    expect(roots.map((n) => n.jti)).toEqual(["cal", "del"]);
    expect(roots[1]?.children.map((n) => [n.jti, n.agent, n.scopes])).toEqual([
      ["search", "flight-booker", ["flights.search"]],
      ["book", "flight-booker", ["flights.book"]],
    ]);
    expect(roots[1]).toMatchObject({
      kind: "delegation",
      agent: "orchestrator",
      audience: "flight-booker",
      parentJti: "dev-jti",
      issuedAt: T0 + 20,
    });
    expect(Object.values(statuses(roots))).toEqual(["active", "active", "active", "active"]);
  });

  it("rule 7: revoking a delegation token revokes everything derived from it", () => {
    const tree = buildTaskTree([...story(), revoked("del", T0 + 50)], TASK, T0 + 60);
    expect(statuses(tree?.roots ?? [])).toEqual({
      cal: "active",
      del: "revoked",
      search: "revoked",
      book: "revoked",
    });
    const del = tree?.roots[1];
    expect(del?.revoked).toEqual({ cause: "token", at: T0 + 50 });
    expect(del?.children[0]?.revoked).toEqual({ cause: "ancestor", at: T0 + 50 });
  });

  it("revoking one leaf leaves its siblings and parent active", () => {
    const tree = buildTaskTree([...story(), revoked("book", T0 + 50)], TASK, T0 + 60);
    expect(statuses(tree?.roots ?? [])).toEqual({
      cal: "active",
      del: "active",
      search: "active",
      book: "revoked",
    });
  });

  it("revoking the user's token the opener entered with revokes the roots (and below)", () => {
    const tree = buildTaskTree([...story(), revoked("dev-jti", T0 + 50)], TASK, T0 + 60);
    expect(Object.values(statuses(tree?.roots ?? []))).toEqual([
      "revoked",
      "revoked",
      "revoked",
      "revoked",
    ]);
    expect(tree?.roots[0]?.revoked?.cause).toBe("ancestor");
  });

  it("an ended task revokes every token in it, and says who ended it", () => {
    const ended: LoggedEvent = {
      ts: T0 + 45,
      type: "task.ended",
      task: TASK,
      by: "orchestrator",
      subject: "alice@example.com",
    };
    const tree = buildTaskTree([...story(), ended], TASK, T0 + 60);
    expect(tree?.task).toMatchObject({
      status: "ended",
      endedAt: T0 + 45,
      endedBy: "orchestrator",
    });
    for (const node of walkTokens(tree?.roots ?? [])) {
      expect(node.status).toBe("revoked");
      expect(node.revoked).toEqual({ cause: "task", at: T0 + 45 });
    }
  });

  it("the earliest revocation wins: an own revocation before the task ended", () => {
    const ended: LoggedEvent = {
      ts: T0 + 55,
      type: "task.ended",
      task: TASK,
      by: "orchestrator",
      subject: "alice@example.com",
    };
    const tree = buildTaskTree([...story(), revoked("search", T0 + 50), ended], TASK, T0 + 60);
    const search = tree?.roots[1]?.children[0];
    expect(search?.revoked).toEqual({ cause: "token", at: T0 + 50 });
    expect(tree?.roots[1]?.revoked).toEqual({ cause: "task", at: T0 + 55 });
  });

  it("expired once now reaches exp; a revocation after expiry leaves it expired", () => {
    const events = [
      started(),
      issued("short", T0 + 10, { exp: T0 + 100 }),
      issued("long", T0 + 20, { exp: T0 + 900 }),
      revoked("short", T0 + 200),
    ];
    expect(statuses(buildTaskTree(events, TASK, T0 + 99)?.roots ?? [])).toEqual({
      short: "active",
      long: "active",
    });
    // At T0+100 exactly the token is no longer valid (RFC 7519 §4.1.4: on or after exp).
    expect(statuses(buildTaskTree(events, TASK, T0 + 100)?.roots ?? [])).toEqual({
      short: "expired",
      long: "active",
    });
    expect(statuses(buildTaskTree(events, TASK, T0 + 300)?.roots ?? [])).toEqual({
      short: "expired",
      long: "active",
    });
    // And the task is past its deadline.
    expect(buildTaskTree(events, TASK, T0 + 1800)?.task.status).toBe("expired");
  });

  it("nests three agents deep (orchestrator → flight-booker → researcher)", () => {
    const events = [
      ...story(),
      issued("to-researcher", T0 + 50, {
        kind: "delegation",
        agent: "flight-booker",
        chain: ["flight-booker", "orchestrator"],
        audience: "researcher",
        scopes: ["docs.read"],
        parent_jti: "del",
      }),
      issued("docs", T0 + 60, {
        agent: "researcher",
        chain: ["researcher", "flight-booker", "orchestrator"],
        audience: "docs",
        scopes: ["docs.read"],
        parent_jti: "to-researcher",
      }),
      revoked("to-researcher", T0 + 70),
    ];
    const tree = buildTaskTree(events, TASK, T0 + 80);
    const del = tree?.roots[1];
    expect(del?.children.map((n) => n.jti)).toEqual(["search", "book", "to-researcher"]);
    const docs = del?.children[2]?.children[0];
    expect(docs).toMatchObject({ jti: "docs", agent: "researcher", status: "revoked" });
    expect(docs?.revoked?.cause).toBe("ancestor");
    expect(del?.status).toBe("active");
  });

  it("ignores the events of other tasks, and of no task", () => {
    const events = [
      started(OTHER),
      ...story(),
      issued("elsewhere", T0 + 11, { txn: OTHER }),
      issued("no-task", T0 + 12, { txn: undefined }),
      revoked("elsewhere", T0 + 13),
      { ts: T0 + 14, type: "task.ended", task: OTHER, by: "x", subject: "y" } as LoggedEvent,
      { ts: T0 + 15, type: "key.rotated", kid: "k2" } as LoggedEvent,
    ];
    const tree = buildTaskTree(events, TASK, T0 + 60);
    expect(tree?.task.status).toBe("open");
    expect(tree?.tokens).toBe(4);
    expect(Object.keys(statuses(tree?.roots ?? []))).toEqual(["cal", "del", "search", "book"]);
    const other = buildTaskTree(events, OTHER, T0 + 60);
    expect(other?.task.status).toBe("ended");
    expect(other?.roots.map((n) => [n.jti, n.status])).toEqual([["elsewhere", "revoked"]]);
  });

  it("an unknown task has no tree", () => {
    expect(buildTaskTree(story(), OTHER, T0)).toBeUndefined();
    expect(buildTaskTree([], TASK, T0)).toBeUndefined();
  });

  it("the filter keeps only what the tree (and the page's access check) needs", () => {
    const keep = taskEventFilter(TASK);
    const approval: LoggedEvent = {
      type: "approval.requested",
      approval: "apr_1",
      agent: "flight-booker",
      subject: "alice@example.com",
      chain: ["flight-booker", "orchestrator"],
      target: "flights",
      scopes: ["flights.book"],
      approvers: ["subject"],
      expires_at: T0 + 600,
      txn: TASK,
    };
    const kept = [
      ...story(),
      revoked("unrelated", T0 + 1),
      revoked("del", T0 + 2),
      approval,
      { ...approval, txn: OTHER },
    ].filter(keep);
    expect(kept.map((e) => e.type)).toEqual([
      "task.started",
      "exchange.issued",
      "exchange.issued",
      "exchange.issued",
      "exchange.issued",
      "token.revoked",
      "approval.requested",
    ]);
  });
});
