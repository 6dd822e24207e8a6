/**
 * Issue 8, `/approvals/tasks/:id` over real HTTP (startTestBroker, fixed clock): who may see a
 * task's tree (its user, and an approver of one of its requests; anyone else the 404 of an
 * unknown task), expiry drawn against the broker's clock, and the page when the audit log is
 * not a file (no events to draw from).
 */

import { afterEach, describe, expect, it } from "vitest";
import { ALICE, BOB, CAROL, getPage, signIn, withApproverGroup } from "../helpers/approvals.js";
import { startTestBroker, type TestBroker, type TestBrokerOptions } from "../helpers/broker.js";
import { accessForm, issueIn, startTask } from "../helpers/tasks.js";

let running: TestBroker | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function broker(options: TestBrokerOptions): Promise<TestBroker> {
  running = await startTestBroker({ editPolicy: withApproverGroup, ...options });
  return running;
}

const treeOf = (b: TestBroker, taskId: string, person: string) =>
  signIn(b, person).then((s) => getPage(b, `/approvals/tasks/${taskId}`, s));

describe("issue 8: who may see a task's delegation tree", () => {
  it("its user and the approver of its ceiling; nobody else, and nobody signed out", async () => {
    const b = await broker({ taskEvents: true });
    const alice = await b.devToken(ALICE);
    // payments.charge is carol's group's to approve: the ceiling waits for her (rule 6).
    const task = await startTask(b, "orchestrator", alice, {
      purpose: "Pay the Berlin hotel",
      scope: "calendar.read payments.charge",
    });
    expect(task.status).toBe("approval_required");

    const own = await treeOf(b, task.task_id, ALICE);
    expect(own.status).toBe(200);
    expect(own.html).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="task-tree"');
    expect(own.html).toContain("Pay the Berlin hotel");
    expect(own.headers.get("content-security-policy")).toContain("default-src 'none'");

    // carol is not the user, but she decides the task's ceiling: she sees what it grew into.
    expect((await treeOf(b, task.task_id, CAROL)).status).toBe(200);

    const bob = await treeOf(b, task.task_id, BOB);
    expect(bob.status).toBe(404);
    expect(bob.html).toContain("No such task for you.");
    expect(bob.html).not.toContain("Pay the Berlin hotel");
    // An unknown id and a malformed one read exactly the same.
    const unknown = await treeOf(b, "tsk_AAAAAAAAAAAAAAAAAAAAAA", ALICE);
    const malformed = await treeOf(b, "not-a-task", ALICE);
    expect([unknown.status, malformed.status]).toEqual([404, 404]);
    const main = (html: string) => html.slice(html.indexOf("<main"));
    expect(main(unknown.html)).toBe(main(malformed.html));
    expect(main(unknown.html)).toBe(main(bob.html));

    const signedOut = await getPage(b, `/approvals/tasks/${task.task_id}`);
    expect(signedOut.html).toContain("Sign in to decide approval requests");
    expect(signedOut.html).not.toContain("Pay the Berlin hotel");
  });

  it("expiry follows the broker's clock: an expired token is greyed, a live one not", async () => {
    const b = await broker({ taskEvents: true });
    const alice = await b.devToken(ALICE);
    const task = await startTask(b, "orchestrator", alice, { scope: "calendar.read" });
    const enter = (ttl: number) =>
      accessForm(alice, "calendar", "calendar.read", {
        task_id: task.task_id,
        ttl_seconds: String(ttl),
      });
    const short = await issueIn(b, "orchestrator", enter(60), task.task_id);
    const long = await issueIn(b, "orchestrator", enter(600), task.task_id);
    b.clock.advance(120);
    const { html } = await treeOf(b, task.task_id, ALICE);
    const jti = (issued: typeof short) => issued.claims.jti as string;
    expect(html).toContain(`<g class="token access expired" data-jti="${jti(short)}"`);
    expect(html).toContain(`<g class="token access active" data-jti="${jti(long)}"`);
  });

  it("with the audit log on stderr, the page says the tree is unavailable", async () => {
    const b = await broker({});
    const alice = await b.devToken(ALICE);
    const task = await startTask(b, "orchestrator", alice, { scope: "calendar.read" });
    const page = await treeOf(b, task.task_id, ALICE);
    expect(page.status).toBe(200);
    expect(page.html).toContain("The delegation tree is unavailable");
    expect(page.html).not.toContain("<svg");
    // Access is still checked, from the task's record in the store.
    expect((await treeOf(b, task.task_id, BOB)).status).toBe(404);
  });
});
