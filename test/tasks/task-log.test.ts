/**
 * A task's log in the store (tasks/task-log.ts), on a real SQLite file shared by two
 * connections (two nodes): appends from both read back in one order, each task apart, and the
 * revocations the store knows of come back as `token.revoked` (exchange/task-tree-events.ts).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoggedEvent } from "../../src/audit/task-tree.js";
import { markRevoked } from "../../src/exchange/steps/lineage.js";
import { taskTreeEvents } from "../../src/exchange/steps/task-tree-events.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { appendTaskEvent, readTaskLog } from "../../src/tasks/task-log.js";
import { T0 } from "../helpers/broker.js";

let dir: string;
let a: Store;
let b: Store;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-task-log-"));
  a = await openKeyvStore(`sqlite://${join(dir, "b.db")}`);
  b = await openKeyvStore(`sqlite://${join(dir, "b.db")}`);
});
afterAll(async () => {
  await a.close();
  await b.close();
  await rm(dir, { recursive: true, force: true });
});

const issued = (jti: string, parent?: string): LoggedEvent => ({
  type: "exchange.issued",
  subject: "alice",
  chain: ["orchestrator"],
  agent: "orchestrator",
  kind: "access",
  audience: "calendar",
  scopes: ["calendar.read"],
  jti,
  exp: T0 + 300,
  txn: "tsk_1",
  ...(parent === undefined ? {} : { parent_jti: parent }),
  policy: "v1",
});

describe("a task's log in the store", () => {
  it("appends from two connections read back in one order; another task stays apart", async () => {
    await appendTaskEvent(a, "tsk_1", issued("j1", "user-token"), 60_000);
    await appendTaskEvent(b, "tsk_1", issued("j2", "j1"), 60_000);
    await appendTaskEvent(a, "tsk_2", issued("other"), 60_000);
    await appendTaskEvent(b, "tsk_1", issued("j3", "j2"), 60_000);
    expect((await readTaskLog(a, "tsk_1")).map((e) => (e as { jti: string }).jti)).toEqual([
      "j1",
      "j2",
      "j3",
    ]);
    expect(await readTaskLog(b, "tsk_2")).toHaveLength(1);
    expect(await readTaskLog(b, "tsk_unknown")).toEqual([]);
  });

  it("the revocation marks come back as token.revoked, with the time they were made", async () => {
    await markRevoked(b, "j2", T0 + 300, T0 + 10);
    // The user's token the opener entered with, revoked through its development lineage id.
    await markRevoked(a, "dev:user-token", T0 + 300, T0 + 20);
    const events = await taskTreeEvents(a, "tsk_1");
    expect(events.filter((e) => e.type === "token.revoked")).toEqual([
      { type: "token.revoked", jti: "user-token", by: "store", ts: T0 + 20 },
      { type: "token.revoked", jti: "j2", by: "store", ts: T0 + 10 },
    ]);
  });
});
