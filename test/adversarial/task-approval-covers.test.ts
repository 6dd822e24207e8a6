/**
 * Rule 6 inside an approved task: the task's one approval names every agent it covers (the
 * opener, and each agent a delegation can reach with an elevated scope of the ceiling), and
 * only those get an elevated scope under it. Anyone else (an agent a hot reload made reachable
 * since, a scope made elevated since, a task recorded before approvals named whom they cover)
 * falls back to a per-request approval, exactly as outside a task: `400
 * authorization_pending`, nothing issued, until that request's own approval is decided.
 *
 * Over HTTP against the real broker (test/helpers/broker.ts), hot reloads through its swap, a
 * fixed clock. Policy: template `trip` (flights.search, flights.book; approval: subject); the
 * researcher holds flights.book too, but at first no edge leads to it from the orchestrator's
 * tree (orchestrator → flight-booker only, flight-booker delegates to no one).
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readApproval } from "../../src/approvals/approval-store.js";
import { decideApproval } from "../../src/exchange/operations/decide-approval.js";
import { readTask, saveTask } from "../../src/tasks/task-store.js";
import {
  exchange,
  expectApprovalPending,
  expectRefused,
  issuedCount,
} from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE } from "../helpers/mcp.js";
import {
  accessForm,
  delegationForm,
  issueIn,
  lastDeniedRule,
  startTask,
} from "../helpers/tasks.js";

function editPolicy(data: Record<string, any>): void {
  data.broker.max_open_approvals = 100;
  data.agents.researcher.scopes.push("flights.book");
  data.agents.orchestrator.delegate_to = ["flight-booker"];
  delete data.agents["flight-booker"].delegate_to;
  data.tasks = { trip: { ceiling: ["flights.search", "flights.book"], approval: "subject" } };
}

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({ editPolicy });
});
afterAll(() => broker?.close());
// Every test starts from this file's policy, whatever the one before reloaded.
afterEach(() => broker.reloadWith(() => {}));

const approve = (id: string) =>
  decideApproval(broker.deps, id, "approved", { person: ALICE }, "web");

/**
 * Opens a `trip` task as the orchestrator for alice, approves its ceiling as alice, and hands
 * flight-booker a delegation token for both scopes in it.
 */
async function approvedTrip() {
  const user = await broker.devToken(ALICE, { agent: "orchestrator" });
  const task = await startTask(broker, "orchestrator", user, { template: "trip" });
  expect(task.status).toBe("approval_required");
  await approve(task.approval_id as string);
  const enter = { task_id: task.task_id };
  const toBooker = await issueIn(
    broker,
    "orchestrator",
    delegationForm(user, "flight-booker", "flights.search flights.book", enter),
    task.task_id,
  );
  return { task, user, enter, toBooker: toBooker.token };
}

describe("a task's approval names whom it covers (rule 6)", () => {
  it("the approval request and the task record both name the opener and flight-booker, each with flights.book", async () => {
    const user = await broker.devToken(ALICE, { agent: "orchestrator" });
    const task = await startTask(broker, "orchestrator", user, { template: "trip" });
    const covers = [
      { agent: "orchestrator", scopes: ["flights.book"], delegated: false },
      { agent: "flight-booker", scopes: ["flights.book"], delegated: true },
    ];
    const record = await readApproval(broker.store, task.approval_id as string);
    expect(record).toMatchObject({ kind: "task", target: "trip", covers });
    expect((await readTask(broker.store, task.task_id))?.covers).toEqual(covers);
  });

  it("once approved, every agent it names gets flights.book with no further approval", async () => {
    const { task, user, enter, toBooker } = await approvedTrip();
    const requested = broker.events.filter((e) => e.type === "approval.requested").length;
    const own = await issueIn(
      broker,
      "orchestrator",
      accessForm(user, "flights", "flights.book", enter),
      task.task_id,
    );
    expect(own.chain).toEqual(["orchestrator"]);
    const booked = await issueIn(
      broker,
      "flight-booker",
      accessForm(toBooker, "flights", "flights.book"),
      task.task_id,
    );
    expect(booked.chain).toEqual(["flight-booker", "orchestrator"]);
    expect(broker.events.filter((e) => e.type === "approval.requested")).toHaveLength(requested);
  });
});

describe("outside the covered set: the request's own approval, as outside a task (rule 6)", () => {
  it("a hot reload adds flight-booker → researcher: the researcher's flights.book waits for its own approval; nothing is issued until it is decided", async () => {
    const { task, toBooker } = await approvedTrip();
    broker.reloadWith((d) => {
      d.agents["flight-booker"].delegate_to = ["researcher"];
    });
    // Delegation narrows, never asks (rule 1): the researcher may be handed the scope…
    const toResearcher = await issueIn(
      broker,
      "flight-booker",
      delegationForm(toBooker, "researcher", "flights.search flights.book"),
      task.task_id,
    );
    // …and a scope that needs no human is issued as before…
    await issueIn(
      broker,
      "researcher",
      accessForm(toResearcher.token, "flights", "flights.search"),
      task.task_id,
    );
    // …but the task's approval never named the researcher: flights.book waits for a human.
    const book = () =>
      exchange(broker, accessForm(toResearcher.token, "flights", "flights.book"), "researcher");
    const pending = await expectApprovalPending(broker, book());
    expect(lastDeniedRule(broker)).toBe("approval.pending");
    expect(await readApproval(broker.store, pending.approval_id)).toMatchObject({
      kind: "access",
      client: "researcher",
      chain: ["researcher", "flight-booker", "orchestrator"],
      target: "flights",
      scopes: ["flights.book"],
      task: task.task_id,
      approvers: ["subject"],
    });
    expect((await readApproval(broker.store, pending.approval_id))?.covers).toBeUndefined();
    // Asked again while pending: the same approval (no second request to a human), nothing issued.
    const again = await expectRefused(broker, book(), 400, "authorization_pending");
    expect(again.body.approval_id).toBe(pending.approval_id);
    // Decided: that exact request is issued once, in the task.
    await approve(pending.approval_id);
    const withApproval = accessForm(toResearcher.token, "flights", "flights.book", {
      approval_id: pending.approval_id,
    });
    const issued = await issueIn(broker, "researcher", withApproval, task.task_id);
    expect(issued.chain).toEqual(["researcher", "flight-booker", "orchestrator"]);
    expect(issued.claims.scope).toBe("flights.book");
    await expectRefused(
      broker,
      exchange(broker, withApproval, "researcher"),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toBe("approval.used");
  });

  it("that approval denied: access_denied, nothing issued", async () => {
    const { toBooker } = await approvedTrip();
    broker.reloadWith((d) => {
      d.agents["flight-booker"].delegate_to = ["researcher"];
    });
    const { token: toResearcher } = await issueIn(
      broker,
      "flight-booker",
      delegationForm(toBooker, "researcher", "flights.book"),
    );
    const pending = await expectApprovalPending(
      broker,
      exchange(broker, accessForm(toResearcher, "flights", "flights.book"), "researcher"),
    );
    await decideApproval(broker.deps, pending.approval_id, "denied", { person: ALICE }, "web");
    const before = issuedCount(broker);
    await expectRefused(
      broker,
      exchange(
        broker,
        accessForm(toResearcher, "flights", "flights.book", { approval_id: pending.approval_id }),
        "researcher",
      ),
      400,
      "access_denied",
    );
    expect(lastDeniedRule(broker)).toBe("approval.denied");
    expect(issuedCount(broker)).toBe(before);
  });

  it("a scope a hot reload made elevated after the task opened: even the opener's grant of it waits for its own approval", async () => {
    const { task, user, enter, toBooker } = await approvedTrip();
    broker.reloadWith((d) => {
      d.apis.flights.scopes["flights.search"] = {
        description: "Search flights",
        approval: "subject",
      };
    });
    for (const [agent, subject] of [
      ["orchestrator", user],
      ["flight-booker", toBooker],
    ] as const) {
      const form = accessForm(
        subject,
        "flights",
        "flights.search",
        agent === "orchestrator" ? enter : {},
      );
      await expectApprovalPending(broker, exchange(broker, form, agent));
      expect(lastDeniedRule(broker)).toBe("approval.pending");
    }
    // flights.book, which the approval named for both, still needs nothing more.
    await issueIn(
      broker,
      "flight-booker",
      accessForm(toBooker, "flights", "flights.book"),
      task.task_id,
    );
  });

  it("a task recorded before approvals named whom they cover: its approval named the opener alone", async () => {
    const { task, user, enter, toBooker } = await approvedTrip();
    const record = await readTask(broker.store, task.task_id);
    const { covers: _, ...legacy } = record as NonNullable<typeof record>;
    await saveTask(broker.store, legacy, broker.clock.now());
    await expectApprovalPending(
      broker,
      exchange(broker, accessForm(toBooker, "flights", "flights.book"), "flight-booker"),
    );
    expect(lastDeniedRule(broker)).toBe("approval.pending");
    await issueIn(
      broker,
      "orchestrator",
      accessForm(user, "flights", "flights.book", enter),
      task.task_id,
    );
  });
});
