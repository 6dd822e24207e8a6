/**
 * Issue 4, "done when", over HTTP (`POST /tasks`, `POST /token` with `task_id`, `POST /whoami`,
 * `POST /tasks/{id}/end`, `POST /introspect`): a task is an upper bound for a whole tree of
 * agents (design §2, §4 rules 1, 2, 7).
 *
 * - The ceiling: a scope the agent may hold but the ceiling does not → invalid_scope, nothing
 *   issued; two levels down (orchestrator → flight-booker → researcher) neither the ceiling nor
 *   the deadline can be exceeded, and the task record in the store is what bounds them.
 * - The budget: token max_tokens + 1 is refused, access and delegation tokens of every agent of
 *   the tree counted; 50 concurrent requests against a budget of 10 issue exactly 10, on the
 *   memory store and on SQLite.
 * - The deadline: after it nothing is issued, entering with task_id or redeeming a delegation.
 * - end_task: every token of the tree, a grandchild's included, is inactive at introspection
 *   and refused as a subject token; a second end is idempotent.
 * - Refusals (exact status, code, nothing issued), caps by template and broker, whoami, audit.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTask, saveTask } from "../../src/tasks/task-store.js";
import { exchange, expectRefused, type Issued, issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, BOB, without } from "../helpers/mcp.js";
import {
  accessForm,
  delegationForm,
  endTask,
  expOf,
  growTree,
  introspect,
  issuedIn,
  issueIn,
  lastDeniedRule,
  postTask,
  postWhoami,
  startTask,
  type TaskBody,
  type TaskForm,
  treeTokens,
  whoami,
} from "../helpers/tasks.js";

/** Templates the tests add to the base policy. */
function addTemplates(data: Record<string, any>): void {
  data.tasks = {
    trip: {
      description: "Plan a trip",
      ceiling: ["calendar.read", "flights.search", "docs.read"],
      max_ttl: "30m",
      max_tokens: 5,
    },
    roomy: { ceiling: ["docs.read"], max_ttl: "2h", max_tokens: 50 },
    "approved-trip": { ceiling: ["flights.search", "flights.book"], approval: "subject" },
  };
}

const TREE_CEILING = "calendar.read flights.search docs.read";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({ editPolicy: addTemplates });
});
afterAll(() => broker?.close());

/** A fresh token of `user` held by `agent` (the clock moves between tests). */
const userToken = (agent = "orchestrator", user = ALICE) => broker.devToken(user, { agent });

/** Opens a task as `agent` with a fresh token of alice's; the task and that token. */
async function open(form: TaskForm, agent = "orchestrator") {
  const token = await userToken(agent);
  return { task: await startTask(broker, agent, token, form), token };
}

/** Enters `taskId` as the orchestrator for an access token. */
const enter = (token: string, taskId: string, api: string, scope: string, extra = {}) =>
  exchange(broker, accessForm(token, api, scope, { task_id: taskId, ...extra }), "orchestrator");

/**
 * whoami with the task_id of a task that is over: 200, the task with `status` ended or expired,
 * and only what the agent may hold outside any task (no API narrowed by the task). Nothing is
 * issued.
 */
async function expectTaskShownAs(
  token: string,
  task: TaskBody,
  now: Pick<TaskBody, "tokens_left" | "status">,
): Promise<void> {
  const issued = issuedCount(broker);
  const view = await whoami(broker, "orchestrator", token, task.task_id);
  expect(view.task).toEqual({ ...task, ...now });
  const outside = await whoami(broker, "orchestrator", token);
  expect(outside.task).toBeUndefined();
  expect(without(view, ["task"])).toEqual(outside);
  expect(issuedCount(broker)).toBe(issued);
}

const startedCount = (b: TestBroker) => b.events.filter((e) => e.type === "task.started").length;

/** A refused `POST /tasks`: exact status and code, no token and no task.started event. */
async function expectNoTask(
  response: Promise<Response>,
  status: number,
  code: string,
): Promise<void> {
  const before = startedCount(broker);
  await expectRefused(broker, response, status, code);
  expect(startedCount(broker), "no task may be opened").toBe(before);
}

describe("POST /tasks opens a task", () => {
  it("answers 201 with the task: id, purpose, ceiling, deadline, budget, status", async () => {
    const now = broker.clock.now();
    const { task } = await open({
      purpose: "find a flight",
      scope: "calendar.read docs.read",
      ttl_seconds: 600,
      max_tokens: 3,
    });
    expect(task).toEqual({
      task_id: expect.stringMatching(/^tsk_[A-Za-z0-9_-]{22}$/),
      purpose: "find a flight",
      ceiling: ["calendar.read", "docs.read"],
      expires_at: now + 600,
      max_tokens: 3,
      tokens_left: 3,
      status: "active",
    });
  });

  it("refuses a caller that does not authenticate: 401 invalid_client", async () => {
    const token = await userToken();
    await expectNoTask(
      broker.post("/tasks", {
        subject_token: token,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        purpose: "x",
        scope: "docs.read",
      }),
      401,
      "invalid_client",
    );
  });
});

describe("the ceiling (rule 1)", () => {
  it("a scope the agent's policy allows but the ceiling does not → invalid_scope, nothing issued", async () => {
    const { task, token } = await open({ scope: "calendar.read", max_tokens: 5 });
    await expectRefused(
      broker,
      enter(token, task.task_id, "docs", "docs.read"),
      400,
      "invalid_scope",
    );
    expect(lastDeniedRule(broker)).toBe("narrow.scope.task");
    // A delegation is held to the ceiling too.
    await expectRefused(
      broker,
      exchange(
        broker,
        delegationForm(token, "researcher", "docs.read", { task_id: task.task_id }),
        "orchestrator",
      ),
      400,
      "invalid_scope",
    );
    // The same request outside the task is fine: only the ceiling refused it.
    await issueIn(broker, "orchestrator", accessForm(token, "docs", "docs.read"));
    // Inside the ceiling: issued, in the task. Refusals cost no budget.
    const ok = await issueIn(
      broker,
      "orchestrator",
      accessForm(token, "calendar", "calendar.read", { task_id: task.task_id }),
      task.task_id,
    );
    expect(ok.claims.scope).toBe("calendar.read");
    expect((await whoami(broker, "orchestrator", token, task.task_id)).task.tokens_left).toBe(4);
  });

  it("a sub-agent two levels down can exceed neither the ceiling nor the deadline", async () => {
    const { task, token } = await open({ scope: TREE_CEILING, ttl_seconds: 120, max_tokens: 20 });
    expect(task.expires_at).toBe(broker.clock.now() + 120);
    // Every hop asks for an hour; the deadline, two minutes away, wins at every depth (rule 2).
    const tree = await growTree(broker, task.task_id, token, 3600);
    for (const [name, t] of treeTokens(tree)) {
      expect(expOf(t), name).toBeLessThanOrEqual(task.expires_at);
    }
    expect(tree.researcherAccess.claims.exp).toBe(task.expires_at);

    // researcher may hold flights.search, and the ceiling has it, but its delegation does not.
    await expectRefused(
      broker,
      exchange(
        broker,
        accessForm(tree.toResearcher.token, "flights", "flights.search"),
        "researcher",
      ),
      400,
      "invalid_scope",
    );
    // flight-booker may hold flights.book, but neither the ceiling nor its delegation has it.
    await expectRefused(
      broker,
      exchange(
        broker,
        delegationForm(tree.toBooker.token, "researcher", "flights.book"),
        "flight-booker",
      ),
      400,
      "invalid_scope",
    );

    // The task record in the store bounds the tree, not only the scopes its tokens carry:
    // narrow the ceiling and bring the deadline closer under the tokens already issued.
    const now = broker.clock.now();
    const record = await readTask(broker.store, task.task_id);
    if (!record) throw new Error("the task is in the store");
    await saveTask(
      broker.store,
      { ...record, ceiling: ["flights.search"], deadline: now + 30 },
      now,
    );
    await expectRefused(
      broker,
      exchange(broker, accessForm(tree.toResearcher.token, "docs", "docs.read"), "researcher"),
      400,
      "invalid_scope",
    );
    expect(lastDeniedRule(broker)).toBe("narrow.scope.task");
    const late = await issueIn(
      broker,
      "flight-booker",
      accessForm(tree.toBooker.token, "flights", "flights.search", { ttl_seconds: "3600" }),
      task.task_id,
    );
    expect(late.claims.exp).toBe(now + 30);
  });
});

describe("the budget", () => {
  it("token max_tokens + 1 is refused, counting access and delegation tokens of the whole tree", async () => {
    const { task, token } = await open({ scope: TREE_CEILING, max_tokens: 5 });
    const tree = await growTree(broker, task.task_id, token);
    expect(issuedIn(broker, task.task_id)).toHaveLength(5);
    expect((await whoami(broker, "orchestrator", token, task.task_id)).task.tokens_left).toBe(0);

    // The sixth token, whoever asks, whatever kind.
    const sixth = [
      exchange(broker, accessForm(tree.toResearcher.token, "docs", "docs.read"), "researcher"),
      exchange(
        broker,
        accessForm(tree.toBooker.token, "flights", "flights.search"),
        "flight-booker",
      ),
      exchange(
        broker,
        delegationForm(tree.toBooker.token, "researcher", "docs.read"),
        "flight-booker",
      ),
      enter(token, task.task_id, "calendar", "calendar.read"),
    ];
    for (const attempt of sixth) {
      await expectRefused(broker, attempt, 400, "invalid_request");
      expect(lastDeniedRule(broker)).toBe("task.budget");
    }
    expect(issuedIn(broker, task.task_id)).toHaveLength(5);
    // The budget is the task's, not the user's: outside it the orchestrator is unaffected.
    await issueIn(broker, "orchestrator", accessForm(token, "calendar", "calendar.read"));
  });

  it("50 concurrent requests against a budget of 10 issue exactly 10 (memory store)", async () => {
    await expectExactBudget(broker);
  });

  describe("on SQLite", () => {
    let dir: string;
    let sqlite: TestBroker;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "baton-tasks-"));
      sqlite = await startTestBroker({ store: `sqlite://${dir}/b.db` });
    });
    afterAll(async () => {
      await sqlite?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("50 concurrent requests against a budget of 10 issue exactly 10", async () => {
      await expectExactBudget(sqlite);
    });
  });
});

/** 50 concurrent POST /token against max_tokens 10: ten 200s, ten issued events, 40 refusals. */
async function expectExactBudget(b: TestBroker): Promise<void> {
  const token = await b.devToken(ALICE, { agent: "orchestrator" });
  const task = await startTask(b, "orchestrator", token, { scope: "docs.read", max_tokens: 10 });
  const before = issuedCount(b);
  const form = accessForm(token, "docs", "docs.read", { task_id: task.task_id });
  const responses = await Promise.all(
    Array.from({ length: 50 }, () => exchange(b, form, "orchestrator")),
  );
  const outcomes = await Promise.all(
    responses.map(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, any>,
    })),
  );
  const issued = outcomes.filter((o) => o.status === 200);
  expect(issued).toHaveLength(10);
  expect(new Set(issued.map((o) => o.body.access_token)).size).toBe(10);
  const refused = outcomes.filter((o) => o.status !== 200);
  expect(refused.map((o) => `${o.status} ${o.body.error}`)).toEqual(
    Array(40).fill("400 invalid_request"),
  );
  expect(refused.every((o) => o.body.access_token === undefined)).toBe(true);
  expect(issuedCount(b) - before).toBe(10);
  expect(issuedIn(b, task.task_id)).toHaveLength(10);
  const denied = b.events.filter((e) => e.type === "exchange.denied" && e.rule === "task.budget");
  expect(denied.length).toBeGreaterThanOrEqual(40);
  expect((await whoami(b, "orchestrator", token, task.task_id)).task.tokens_left).toBe(0);
}

describe("the deadline (rule 2)", () => {
  it("after the deadline nothing is issued: neither entering with task_id nor redeeming a delegation", async () => {
    const { task, token } = await open({ scope: TREE_CEILING, ttl_seconds: 120 });
    const toBooker = await issueIn(
      broker,
      "orchestrator",
      delegationForm(token, "flight-booker", "flights.search", {
        task_id: task.task_id,
        ttl_seconds: "3600",
      }),
      task.task_id,
    );
    expect(toBooker.claims.exp).toBe(task.expires_at);
    // The user's token lives on for the better part of an hour; the task does not.
    expect(expOf(token)).toBeGreaterThan(task.expires_at + 600);

    broker.clock.advance(120);
    await expectRefused(
      broker,
      enter(token, task.task_id, "docs", "docs.read"),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toBe("task.deadline");
    await expectRefused(
      broker,
      exchange(
        broker,
        delegationForm(token, "flight-booker", "flights.search", { task_id: task.task_id }),
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
    // The delegation token was capped at the deadline: it is spent with the task.
    await expectRefused(
      broker,
      exchange(broker, accessForm(toBooker.token, "flights", "flights.search"), "flight-booker"),
      400,
      "invalid_request",
    );
    // whoami shows the task as expired, and nothing the task would have narrowed.
    await expectTaskShownAs(token, task, { tokens_left: task.tokens_left - 1, status: "expired" });
    expect(issuedIn(broker, task.task_id)).toHaveLength(1);
  });
});

describe("end_task (rule 7)", () => {
  it("makes every token of the tree, the grandchild's included, inactive and refused as a subject token", async () => {
    const { task, token } = await open({ scope: TREE_CEILING, max_tokens: 20 });
    const tree = await growTree(broker, task.task_id, token);
    for (const [name, t] of treeTokens(tree)) {
      expect(await introspect(broker, t), name).toMatchObject({ active: true, txn: task.task_id });
    }

    const res = await endTask(broker, "orchestrator", task.task_id, token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ task_id: task.task_id, revoked: true });

    for (const [name, t] of treeTokens(tree)) {
      expect(await introspect(broker, t), name).toEqual({ active: false });
    }
    // Refused as subject tokens, at every depth.
    await expectRefused(
      broker,
      exchange(
        broker,
        accessForm(tree.toBooker.token, "flights", "flights.search"),
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
    await expectRefused(
      broker,
      exchange(broker, accessForm(tree.toResearcher.token, "docs", "docs.read"), "researcher"),
      400,
      "invalid_request",
    );
    await expectRefused(
      broker,
      exchange(
        broker,
        delegationForm(tree.toBooker.token, "researcher", "docs.read"),
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
    // Nor can the opener enter it again; whoami shows it ended.
    await expectRefused(
      broker,
      enter(token, task.task_id, "calendar", "calendar.read"),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toBe("task.ended");
    await expectTaskShownAs(token, task, { tokens_left: task.tokens_left - 5, status: "ended" });

    // A second end is idempotent: same answer, no second task.ended.
    const again = await endTask(broker, "orchestrator", task.task_id, token);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ task_id: task.task_id, revoked: true });
    const ended = broker.events.filter((e) => e.type === "task.ended" && e.task === task.task_id);
    expect(ended).toHaveLength(1);

    // Only the task's tree ended: the user's own token still works outside it.
    await issueIn(broker, "orchestrator", accessForm(token, "calendar", "calendar.read"));
  });
});

describe("refusals", () => {
  it("task_id of a task opened by another agent: invalid_request", async () => {
    const { task } = await open({ scope: "docs.read" });
    const bookerToken = await userToken("flight-booker");
    await expectRefused(
      broker,
      exchange(
        broker,
        accessForm(bookerToken, "docs", "docs.read", { task_id: task.task_id }),
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toBe("task.not_opener");
  });

  it("task_id with another user's subject token: invalid_request", async () => {
    const { task } = await open({ scope: "docs.read" });
    const bobToken = await userToken("orchestrator", BOB);
    await expectRefused(
      broker,
      enter(bobToken, task.task_id, "docs", "docs.read"),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toBe("task.unknown");
    await expectRefused(
      broker,
      postWhoami(broker, "orchestrator", bobToken, task.task_id),
      400,
      "invalid_request",
    );
  });

  it("a delegation token of task A presented with task_id B: invalid_request", async () => {
    const a = await open({ scope: TREE_CEILING });
    const b = await open({ scope: TREE_CEILING });
    const toBooker = await issueIn(
      broker,
      "orchestrator",
      delegationForm(a.token, "flight-booker", "flights.search", { task_id: a.task.task_id }),
      a.task.task_id,
    );
    await expectRefused(
      broker,
      exchange(
        broker,
        accessForm(toBooker.token, "flights", "flights.search", { task_id: b.task.task_id }),
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toBe("task.mismatch");
  });

  it("a task cannot be started inside a task: invalid_request", async () => {
    const { task, token } = await open({ scope: TREE_CEILING });
    const toBooker = await issueIn(
      broker,
      "orchestrator",
      delegationForm(token, "flight-booker", "flights.search", { task_id: task.task_id }),
      task.task_id,
    );
    await expectNoTask(
      postTask(broker, "flight-booker", toBooker.token, { scope: "flights.search" }),
      400,
      "invalid_request",
    );
  });

  it("a ceiling with a scope the agent lacks, or the subject token lacks, or nobody has: invalid_scope", async () => {
    // flight-booker may not hold calendar.read.
    await expectNoTask(
      postTask(broker, "flight-booker", await userToken("flight-booker"), {
        scope: "flights.search calendar.read",
      }),
      400,
      "invalid_scope",
    );
    // The subject token is bound to calendar.read.
    const bound = await broker.devToken(ALICE, {
      agent: "orchestrator",
      scopes: ["calendar.read"],
    });
    await expectNoTask(
      postTask(broker, "orchestrator", bound, { scope: "calendar.read docs.read" }),
      400,
      "invalid_scope",
    );
    await expectNoTask(
      postTask(broker, "orchestrator", await userToken(), { scope: "payroll.read" }),
      400,
      "invalid_scope",
    );
    // Inside those bounds, the same tokens open tasks.
    await startTask(broker, "orchestrator", bound, { scope: "calendar.read" });
  });

  it("both scope and template, or neither: invalid_request", async () => {
    const token = await userToken();
    await expectNoTask(
      postTask(broker, "orchestrator", token, { scope: "docs.read", template: "trip" }),
      400,
      "invalid_request",
    );
    await expectNoTask(postTask(broker, "orchestrator", token, {}), 400, "invalid_request");
  });

  it("an unknown template: invalid_request", async () => {
    await expectNoTask(
      postTask(broker, "orchestrator", await userToken(), { template: "no-such-template" }),
      400,
      "invalid_request",
    );
  });

  it("a template that needs approval opens the task waiting for a human: nothing is issued in it", async () => {
    // Design §3.5: start_task's status is `active` or `approval_required` (rule 6).
    const { task, token } = await open({ template: "approved-trip" });
    expect(task).toMatchObject({
      ceiling: ["flights.search", "flights.book"],
      status: "approval_required",
      approval_id: expect.stringMatching(/^apr_/),
    });
    await expectRefused(
      broker,
      enter(token, task.task_id, "flights", "flights.search"),
      400,
      "authorization_pending",
    );
    expect(issuedIn(broker, task.task_id)).toHaveLength(0);
  });

  it("ending a task that is not yours (another agent, another user, unknown id): invalid_request", async () => {
    const { task, token } = await open({ scope: "docs.read" });
    const attempts = [
      endTask(broker, "flight-booker", task.task_id, await userToken("flight-booker")),
      endTask(broker, "orchestrator", task.task_id, await userToken("orchestrator", BOB)),
      endTask(broker, "orchestrator", "tsk_AAAAAAAAAAAAAAAAAAAAAA", token),
      endTask(broker, "orchestrator", "not-a-task", token),
    ];
    for (const attempt of attempts) await expectRefused(broker, attempt, 400, "invalid_request");
    expect(broker.events.some((e) => e.type === "task.ended" && e.task === task.task_id)).toBe(
      false,
    );
    // Still active for its opener.
    await issueIn(
      broker,
      "orchestrator",
      accessForm(token, "docs", "docs.read", { task_id: task.task_id }),
      task.task_id,
    );
  });
});

describe("caps on the deadline and the budget", () => {
  it("a template caps ttl and max_tokens, and gives the ceiling", async () => {
    const now = broker.clock.now();
    const { task } = await open({ template: "trip", ttl_seconds: 7200, max_tokens: 100 });
    expect(task).toMatchObject({
      ceiling: ["calendar.read", "flights.search", "docs.read"],
      expires_at: now + 1800,
      max_tokens: 5,
      tokens_left: 5,
    });
    const event = broker.events.findLast((e) => e.type === "task.started");
    expect(event).toMatchObject({ task: task.task_id, template: "trip" });
    // Less than the template's maximum is kept as asked.
    const small = await open({ template: "trip", ttl_seconds: 60, max_tokens: 2 });
    expect(small.task).toMatchObject({ expires_at: now + 60, max_tokens: 2 });
  });

  it("the subject token's exp caps the deadline", async () => {
    const now = broker.clock.now();
    const short = await broker.devToken(ALICE, { agent: "orchestrator", ttl: 600 });
    const task = await startTask(broker, "orchestrator", short, {
      scope: "docs.read",
      ttl_seconds: 1800,
    });
    expect(task.expires_at).toBe(now + 600);
  });

  describe("with broker.max_task_ttl 20m and broker.max_task_tokens 7", () => {
    let capped: TestBroker;
    beforeAll(async () => {
      capped = await startTestBroker({
        editPolicy: (data) => {
          addTemplates(data);
          data.broker.max_task_ttl = "20m";
          data.broker.max_task_tokens = 7;
        },
      });
    });
    afterAll(() => capped?.close());

    it("the broker caps what a request and a template ask for", async () => {
      const now = capped.clock.now();
      const token = await capped.devToken(ALICE, { agent: "orchestrator" });
      const asked = await startTask(capped, "orchestrator", token, {
        scope: "docs.read",
        ttl_seconds: 7200,
        max_tokens: 100,
      });
      expect(asked).toMatchObject({ expires_at: now + 1200, max_tokens: 7, tokens_left: 7 });
      // The template "roomy" allows 2h and 50 tokens; the broker does not.
      const roomy = await startTask(capped, "orchestrator", token, { template: "roomy" });
      expect(roomy).toMatchObject({ expires_at: now + 1200, max_tokens: 7 });
    });
  });
});

describe("POST /whoami and the audit log", () => {
  it("whoami with task_id shows the ceiling, the budget left, the deadline and the status", async () => {
    const now = broker.clock.now();
    const { task, token } = await open({
      purpose: "read up",
      scope: "calendar.read docs.read",
      ttl_seconds: 900,
      max_tokens: 3,
    });
    const view = await whoami(broker, "orchestrator", token, task.task_id);
    expect(view.task).toEqual({ ...task, tokens_left: 3 });
    expect(view.subject_expires_at).toBe(now + 900);
    expect(
      view.apis.map((a: any) => [a.id, a.scopes.map((s: any) => s.name), a.max_ttl_seconds]),
    ).toEqual([
      ["calendar", ["calendar.read"], 600],
      ["docs", ["docs.read"], 900],
    ]);
    // Without task_id, the same session sees everything its policy allows, and no task.
    const outside = await whoami(broker, "orchestrator", token);
    expect(outside.task).toBeUndefined();
    expect(outside.apis.map((a: any) => a.id)).toEqual(["calendar", "flights", "docs"]);

    const left: number[] = [];
    for (const scope of ["calendar.read", "docs.read", "docs.read"]) {
      await issueIn(
        broker,
        "orchestrator",
        accessForm(token, scope.split(".")[0] as string, scope, { task_id: task.task_id }),
        task.task_id,
      );
      left.push((await whoami(broker, "orchestrator", token, task.task_id)).task.tokens_left);
    }
    expect(left).toEqual([2, 1, 0]);
    expect((await whoami(broker, "orchestrator", token, task.task_id)).task.status).toBe("active");
  });

  it("a sub-agent's whoami on its delegation token shows the task without task_id", async () => {
    const { task, token } = await open({ scope: TREE_CEILING, max_tokens: 9 });
    const toBooker = await issueIn(
      broker,
      "orchestrator",
      delegationForm(token, "flight-booker", "flights.search docs.read", { task_id: task.task_id }),
      task.task_id,
    );
    const view = await whoami(broker, "flight-booker", toBooker.token);
    expect(view).toMatchObject({
      agent: "flight-booker",
      subject: ALICE,
      chain: ["flight-booker", "orchestrator"],
      task: { task_id: task.task_id, ceiling: task.ceiling, tokens_left: 8, status: "active" },
    });
    expect(view.apis.map((a: any) => [a.id, a.scopes.map((s: any) => s.name)])).toEqual([
      ["flights", ["flights.search"]],
      ["docs", ["docs.read"]],
    ]);
  });

  it("records task.started and task.ended, and every token issued in the task carries txn", async () => {
    const from = broker.events.length;
    const { task, token } = await open({ purpose: "audit me", scope: TREE_CEILING, max_tokens: 9 });
    const started = broker.events.slice(from).find((e) => e.type === "task.started");
    // Every event carries the policy version it was decided under (issue 9), as `serve` records.
    const policy = broker.policy.version;
    expect(started).toEqual({
      policy,
      type: "task.started",
      task: task.task_id,
      agent: "orchestrator",
      subject: ALICE,
      ceiling: ["calendar.read", "flights.search", "docs.read"],
      deadline: task.expires_at,
      max_tokens: 9,
      purpose: "audit me",
    });
    const tree = await growTree(broker, task.task_id, token);
    expect((await endTask(broker, "orchestrator", task.task_id, token)).status).toBe(200);
    const window = broker.events.slice(from);
    expect(window.filter((e) => e.type === "task.ended")).toEqual([
      { policy, type: "task.ended", task: task.task_id, by: "orchestrator", subject: ALICE },
    ]);
    const issued = window.filter((e) => e.type === "exchange.issued");
    expect(issued).toHaveLength(5);
    for (const e of issued) expect(e).toMatchObject({ txn: task.task_id, subject: ALICE });
    expect(issued.map((e) => e.type === "exchange.issued" && e.jti)).toEqual(
      Object.values(tree).map((t: Issued) => t.claims.jti),
    );
    expect(JSON.stringify(window)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});
