/**
 * Issue 8's delegation tree on many nodes: two `baton serve` nodes on one real Redis, each
 * with its own audit file. The orchestrator opens a task and delegates on node A; flight-booker
 * takes its tokens, and revokes one, on node B. A's audit file holds none of B's tokens, yet
 * the approval page of either node draws the whole tree, the revoked token greyed: the tree is
 * read from the store (exchange/task-tree-events.ts), which every node shares.
 */

import { afterEach, describe, expect, it } from "vitest";
import { Children } from "../helpers/cli-process.js";
import { auditOf, type BatonNode, Cluster, USER } from "../helpers/nodes.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { growStory, openTask } from "../helpers/task-story.js";

const children = new Children();
const redises: TestRedis[] = [];
afterEach(async () => {
  await children.stopAll();
  await Promise.all(redises.splice(0).map((r) => r.stop()));
  await children.removeDirs();
});

/** The task's page on `node`, as `USER` signed in with a one-time link. */
async function treePage(c: Cluster, node: BatonNode, taskId: string): Promise<string> {
  const link = (await c.cli("approvals", "login", "--as", USER)).trim().split("\n").at(-1);
  const login = await fetch((link as string).replace(c.nodes[0]?.url as string, node.url), {
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  const cookie = (login.headers.getSetCookie()[0] as string).split(";")[0] as string;
  const page = await fetch(`${node.url}/approvals/tasks/${taskId}`, { headers: { cookie } });
  expect(page.status).toBe(200);
  return page.text();
}

/** `data-jti` → the classes of each token box in the page's SVG. */
function tokenBoxes(html: string): Map<string, string> {
  const boxes = new Map<string, string>();
  for (const m of html.matchAll(/<g class="token ([^"]+)" data-jti="([^"]+)"/g)) {
    boxes.set(m[2] as string, m[1] as string);
  }
  return boxes;
}

describe("issue 8: the task tree is the same on every node", { timeout: 60_000 }, () => {
  it("tokens issued and revoked on B are drawn on A's page, and the other way round", async () => {
    const redis = await startRedis();
    redises.push(redis);
    const c = await Cluster.start(children, { redis, withoutRateLimit: true });
    const [A, B] = c.nodes as [BatonNode, BatonNode];
    const subject = await c.devToken();
    const task = await openTask(
      A.url,
      subject,
      "Find a Berlin flight",
      "calendar.read flights.search",
    );
    expect(task.status).toBe("active");
    const story = await growStory(A.url, subject, task.task_id, "flights.search", B.url);

    // A's own audit file knows nothing of what B issued: only the store has the whole tree.
    const issuedOnA = (await auditOf(A))
      .filter((e) => e.type === "exchange.issued")
      .map((e) => e.jti);
    expect(issuedOnA).toContain(story.toBooker);
    expect(issuedOnA).not.toContain(story.search);
    expect(issuedOnA).not.toContain(story.booking);

    for (const node of [A, B]) {
      const boxes = tokenBoxes(await treePage(c, node, task.task_id));
      expect([...boxes.keys()].sort(), node.name).toEqual(
        [story.calendar, story.toBooker, story.search, story.revoked, story.booking].sort(),
      );
      expect(boxes.get(story.revoked), node.name).toContain("revoked");
      for (const jti of [story.calendar, story.toBooker, story.search, story.booking]) {
        expect(boxes.get(jti), `${node.name} ${jti}`).toContain("active");
      }
    }

    // Revoking the delegation token on A greys flight-booker's whole branch on B's page.
    const gone = await fetch(`${A.url}/revoke`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from("orchestrator:orchestrator-secret").toString("base64")}`,
      },
      body: new URLSearchParams({ token: story.toBookerToken }),
    });
    expect(gone.status).toBe(200);
    const after = tokenBoxes(await treePage(c, B, task.task_id));
    for (const jti of [story.toBooker, story.search, story.booking, story.revoked]) {
      expect(after.get(jti), jti).toContain("revoked");
    }
    expect(after.get(story.calendar)).toContain("active");
  });
});
