/**
 * The audit log writes one JSON object per line, stamped by the clock, appended to its file.
 */

import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openAuditLog } from "../../src/audit/audit-log.js";
import { fixedClock } from "../../src/clock.js";
import { T0 } from "../helpers/broker.js";

let dir: string;
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("audit log", () => {
  it("appends JSON lines with the clock's time, across reopenings", async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-audit-"));
    const file = join(dir, "nested", "audit.jsonl");
    const first = openAuditLog(file, fixedClock(T0));
    first.record({ type: "key.rotated", kid: "k2", previous: "k1" });
    await first.close();
    const second = openAuditLog(file, fixedClock(T0 + 5));
    second.record({ type: "token.revoked", jti: "j1", by: "orchestrator" });
    await second.close();

    const lines = (await readFile(file, "utf8"))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { ts: T0, type: "key.rotated", kid: "k2", previous: "k1" },
      { ts: T0 + 5, type: "token.revoked", jti: "j1", by: "orchestrator" },
    ]);
  });
});

describe("audit log: one append per turn of the event loop", () => {
  it("written() resolves once every line recorded in the turn is in the file, in order", async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-audit-"));
    const file = join(dir, "audit.jsonl");
    const sink = openAuditLog(file, fixedClock(T0));
    for (let i = 0; i < 50; i++) sink.record({ type: "token.revoked", jti: `j${i}`, by: "a" });
    // Nothing is written while the turn runs: the lines wait for its end, together.
    expect(readFileSync(file, "utf8")).toBe("");
    await sink.written();
    const jtis = (await readFile(file, "utf8"))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).jti);
    expect(jtis).toEqual(Array.from({ length: 50 }, (_, i) => `j${i}`));
    await sink.close();
  });

  it("close writes the lines still waiting for the end of the turn", async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-audit-"));
    const file = join(dir, "audit.jsonl");
    const sink = openAuditLog(file, fixedClock(T0));
    sink.record({ type: "token.revoked", jti: "last", by: "a" });
    await sink.close();
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ jti: "last" });
  });
});

describe("audit log: a write that fails (ENOSPC on /dev/full)", () => {
  it("does not crash: onError hears once, then record refuses with 503 and failure() says why", async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-audit-"));
    const errors: unknown[] = [];
    const sink = openAuditLog("/dev/full", fixedClock(T0), (e) => errors.push(e));
    sink.record({ type: "key.rotated", kid: "k2" });
    sink.record({ type: "key.rotated", kid: "k3" });
    await new Promise<void>((resolve) => {
      const wait = () => (sink.failure?.() === undefined ? setTimeout(wait, 5) : resolve());
      wait();
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "ENOSPC" });
    expect(() => sink.record({ type: "key.rotated", kid: "k4" })).toThrow(
      expect.objectContaining({ code: "temporarily_unavailable", status: 503 }),
    );
    await sink.close();
  });
});
