/**
 * The task an exchange happens in (design §2; §4 rules 1, 2): `resolveTask` finds the task a
 * request names (the subject token's `txn`, or `task_id` from its opener), checks it is the
 * caller's, active and before its deadline, and hands on its lineage; `chargeTask` spends one
 * token of its budget, atomically. Not pure (the task lives in the store), so these run on a
 * real in-memory store and a fixed clock; the planners then read the ceiling and the deadline
 * (plan-access.test.ts).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryAuditLog } from "../../src/audit/audit-log.js";
import { fixedClock } from "../../src/clock.js";
import type { AcceptedSubject } from "../../src/exchange/steps/accept-subject.js";
import { chargeTask, coveredByTask, resolveTask } from "../../src/exchange/steps/enter-task.js";
import type { ExchangeDeps } from "../../src/exchange/types.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { saveTask, type TaskRecord, taskLineageId } from "../../src/tasks/task-store.js";
import { openKeyRing } from "../../src/tokens/key-ring.js";
import {
  agentOf,
  asyncRefusalOf,
  delegatedSubject,
  ISSUER,
  NOW,
  plannerPolicy,
  subjectOf,
  taskOf,
} from "./planner-fixtures.js";

const policy = plannerPolicy();
const clock = fixedClock(NOW);
let store: Store;
let deps: ExchangeDeps;

beforeAll(async () => {
  store = await openKeyvStore("memory://", { clock });
  deps = {
    issuer: ISSUER,
    active: () => ({ policy, issuerVerifiers: new Map() }),
    keys: await openKeyRing(store, policy.broker.signingAlg, clock, policy.broker.maxTtl),
    store,
    audit: memoryAuditLog(),
    clock,
  };
});
afterAll(() => store.close());

let next = 0;
/** A task saved in the store under a fresh id: opened by the orchestrator for the user. */
async function saved(over: Partial<TaskRecord> = {}): Promise<TaskRecord> {
  next += 1;
  const task = taskOf({ id: `tsk_enter_${next}`, ...over });
  await saveTask(store, task, NOW);
  return task;
}

/** The orchestrator with the user's own token (it may enter its own tasks with task_id). */
const opener = (): AcceptedSubject => ({
  agent: agentOf(policy, "orchestrator"),
  subject: subjectOf(),
  lineage: ["user-token-jti"],
  outside: 0,
  delegators: [],
});

/** flight-booker holding a delegation token of task `txn`. */
const inside = (txn: string, over: Partial<AcceptedSubject> = {}): AcceptedSubject => ({
  agent: agentOf(policy, "flight-booker"),
  subject: delegatedSubject(["orchestrator"], ["flights.search"], { txn }),
  lineage: ["user-token-jti", `task:${txn}`, "delegation-jti"],
  outside: 0,
  delegators: [agentOf(policy, "orchestrator")],
  ...over,
});

describe("resolveTask: which task, and whose", () => {
  it("no task named, none carried: no task", async () => {
    expect(await resolveTask(deps, opener(), undefined, NOW)).toBeUndefined();
  });

  it("the opener enters with task_id: the task, and its lineage id joins the token's", async () => {
    const task = await saved();
    expect(await resolveTask(deps, opener(), task.id, NOW)).toEqual({
      task,
      lineage: ["user-token-jti", taskLineageId(task.id)],
    });
  });

  it("a token already inside the task (txn): the task, the lineage as it is", async () => {
    const task = await saved();
    const accepted = inside(task.id);
    expect(await resolveTask(deps, accepted, undefined, NOW)).toEqual({
      task,
      lineage: accepted.lineage,
    });
    // Naming the same task again changes nothing.
    expect(await resolveTask(deps, accepted, task.id, NOW)).toEqual({
      task,
      lineage: accepted.lineage,
    });
  });

  it.each<[string, () => Promise<[AcceptedSubject, string | undefined]>, string]>([
    [
      "a token of one task, with task_id of another",
      async () => [inside((await saved()).id), (await saved()).id],
      "task.mismatch",
    ],
    ["a task id nobody opened", async () => [opener(), "tsk_never_opened"], "task.unknown"],
    [
      "another user's task",
      async () => [opener(), (await saved({ subject: "bob@example.com" })).id],
      "task.unknown",
    ],
    [
      "another agent's task, entered from outside",
      async () => [opener(), (await saved({ agent: "researcher" })).id],
      "task.not_opener",
    ],
    ["an ended task", async () => [opener(), (await saved({ endedAt: NOW - 1 })).id], "task.ended"],
    [
      "a task at its deadline",
      async () => [opener(), (await saved({ deadline: NOW })).id],
      "task.deadline",
    ],
    [
      "a token inside a task past its deadline",
      async () => [inside((await saved({ deadline: NOW - 30 })).id), undefined],
      "task.deadline",
    ],
  ])("refuses %s: invalid_request, 400", async (_, make, rule) => {
    const [accepted, taskId] = await make();
    expect(await asyncRefusalOf(() => resolveTask(deps, accepted, taskId, NOW))).toEqual({
      code: "invalid_request",
      status: 400,
      rule,
    });
  });

  it("a task is entered up to its last second before the deadline", async () => {
    const task = await saved({ deadline: NOW + 1 });
    expect((await resolveTask(deps, opener(), task.id, NOW))?.task).toEqual(task);
  });
});

describe("chargeTask: the budget", () => {
  it("no task: nothing to charge", async () => {
    await expect(chargeTask(deps, undefined, NOW)).resolves.toBeUndefined();
  });

  it("max_tokens 3: three tokens are charged, the fourth is refused (task.budget)", async () => {
    const task = await saved({ maxTokens: 3 });
    const scope = { task, lineage: [] };
    for (let i = 0; i < 3; i += 1) await chargeTask(deps, scope, NOW);
    expect(await asyncRefusalOf(() => chargeTask(deps, scope, NOW))).toEqual({
      code: "invalid_request",
      status: 400,
      rule: "task.budget",
    });
  });

  it("the budget is the task's, whoever spends it: the opener and a sub-agent share it", async () => {
    const task = await saved({ maxTokens: 2 });
    const byOpener = await resolveTask(deps, opener(), task.id, NOW);
    const bySubAgent = await resolveTask(deps, inside(task.id), undefined, NOW);
    await chargeTask(deps, byOpener, NOW);
    await chargeTask(deps, bySubAgent, NOW);
    expect((await asyncRefusalOf(() => chargeTask(deps, byOpener, NOW))).rule).toBe("task.budget");
  });

  it("concurrent charges never overrun the budget: exactly max_tokens succeed", async () => {
    const task = await saved({ maxTokens: 5 });
    const scope = { task, lineage: [] };
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => chargeTask(deps, scope, NOW)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
  });
});

describe("coveredByTask: the standing approval covers only whom it names (rule 6)", () => {
  // docs.admin (admins) and flights.book, calendar.write (subject) are elevated in this policy.
  const approved = taskOf({
    ceiling: ["flights.search", "flights.book", "docs.admin"],
    approvalId: "apr_unit",
    approved: true,
    covers: [
      { agent: "orchestrator", scopes: ["flights.book", "docs.admin"], delegated: false },
      { agent: "flight-booker", scopes: ["flights.book"], delegated: true },
    ],
  });

  it.each([
    ["the opener, with a named scope", "orchestrator", ["flights.book"], true],
    [
      "the opener, with every named scope at once",
      "orchestrator",
      ["flights.book", "docs.admin"],
      true,
    ],
    ["a named delegate, with its named scope", "flight-booker", ["flights.book"], true],
    [
      "a named delegate, its scope beside one not elevated",
      "flight-booker",
      ["flights.search", "flights.book"],
      true,
    ],
    [
      "a named delegate, with a scope named only for the opener",
      "flight-booker",
      ["docs.admin"],
      false,
    ],
    ["an agent the approval does not name", "researcher", ["flights.book"], false],
    [
      "the opener, with an elevated scope it was not approved for",
      "orchestrator",
      ["calendar.write"],
      false,
    ],
  ] as const)("%s: %s", (_, agent, scopes, covered) => {
    expect(coveredByTask(policy, approved, agent, scopes)).toBe(covered);
  });

  it("a task not (yet) approved covers nothing", () => {
    const waiting = { ...approved, approved: undefined };
    expect(coveredByTask(policy, waiting, "orchestrator", ["flights.book"])).toBe(false);
  });

  it("a task opened before approvals named whom they cover: its opener alone, for the ceiling", () => {
    const { covers: _, ...legacy } = approved;
    expect(coveredByTask(policy, legacy, "orchestrator", ["flights.book", "docs.admin"])).toBe(
      true,
    );
    expect(coveredByTask(policy, legacy, "flight-booker", ["flights.book"])).toBe(false);
  });
});
