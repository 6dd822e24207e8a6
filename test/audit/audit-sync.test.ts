/**
 * `--audit-sync` (issue 14 item 13): `written()` resolves only once an fsync that started after
 * the line was in the file has finished; lines that arrive while one fsync runs share the next
 * one (a group commit); a failed fsync stops the log as a failed write does.
 *
 * The real file system throughout. The one seam is the fsync itself (a leaf, `fs.fsync` by
 * default): the test holds each call, observes what waits on it, then lets it run for real or
 * fail. No sleeps: the test waits on the fsync being called and on the file's content.
 */

import { fstatSync, fsync, statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Fsync, openAuditLog } from "../../src/audit/audit-log.js";
import type { AuditSink } from "../../src/audit/events.js";
import { fixedClock } from "../../src/clock.js";
import { T0 } from "../helpers/broker.js";

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-audit-sync-"));
  file = join(dir, "audit.jsonl");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

interface HeldCall {
  readonly fd: number;
  /** Runs the real fsync, then answers the sink. */
  release(): void;
  /** Answers the sink with this error instead. */
  fail(error: Error): void;
}

/** An fsync that waits for the test: every call is kept until released or failed. */
function heldFsync() {
  const calls: HeldCall[] = [];
  const arrivals: (() => void)[] = [];
  const fsyncFn: Fsync = (fd, done) => {
    calls.push({ fd, release: () => fsync(fd, done), fail: (error) => done(error) });
    for (const wake of arrivals.splice(0)) wake();
  };
  /** The n-th call (from 1), once it has been made. */
  const call = async (n: number): Promise<HeldCall> => {
    while (calls.length < n) await new Promise<void>((resolve) => arrivals.push(resolve));
    return calls[n - 1] as HeldCall;
  };
  return { fsync: fsyncFn, calls, call };
}

/** A promise's state, read without waiting on it. */
function track(promise: Promise<void>) {
  const state = { value: "pending" as "pending" | "resolved" | "rejected" };
  promise.then(
    () => {
      state.value = "resolved";
    },
    () => {
      state.value = "rejected";
    },
  );
  return state;
}

/** The file's lines, once it holds at least `count` (each read is real I/O, not a sleep). */
async function linesOnceWritten(count: number): Promise<string[]> {
  for (;;) {
    const lines = (await readFile(file, "utf8")).split("\n").filter(Boolean);
    if (lines.length >= count) return lines;
  }
}

const revoked = (jti: string) => ({ type: "token.revoked", jti, by: "orchestrator" }) as const;

/** Records one event and returns what `written()` says of it. */
function recordOne(sink: AuditSink, jti: string): Promise<void> {
  sink.record(revoked(jti));
  return sink.written();
}

describe("audit log with sync: written() waits for an fsync", () => {
  it("does not resolve when the line is written, only once an fsync that started after it has finished", async () => {
    const held = heldFsync();
    const sink = openAuditLog(file, fixedClock(T0), undefined, { sync: true, fsync: held.fsync });
    const written = track(recordOne(sink, "j1"));

    const first = await held.call(1);
    // The fsync starts only once the line is in the file, and on the file's own descriptor.
    expect(await linesOnceWritten(1)).toEqual([JSON.stringify({ ts: T0, ...revoked("j1") })]);
    expect(fstatSync(first.fd).ino).toBe(statSync(file).ino);
    expect(written.value).toBe("pending");

    first.release();
    await sink.written();
    expect(written.value).toBe("resolved");
    expect(held.calls).toHaveLength(1);
    await sink.close();
  });

  it("N records recorded while one fsync is in flight are covered by exactly one following fsync", async () => {
    const held = heldFsync();
    const sink = openAuditLog(file, fixedClock(T0), undefined, { sync: true, fsync: held.fsync });
    const a = recordOne(sink, "a");
    const first = await held.call(1);

    const N = 25;
    const later = Array.from({ length: N }, (_, i) => recordOne(sink, `b${i}`));
    const states = later.map(track);
    // Every later line is in the file: their writes completed while the first fsync ran,
    // which may have started before them, so it covers none of them.
    await linesOnceWritten(N + 1);
    expect(held.calls).toHaveLength(1);

    first.release();
    const second = await held.call(2);
    await a;
    await linesOnceWritten(N + 1);
    expect(states.every((s) => s.value === "pending")).toBe(true);

    second.release();
    await Promise.all(later);
    // One fsync for the first line, ONE for all N after it: never one per line.
    expect(held.calls).toHaveLength(2);
    expect(second.fd).toBe(first.fd);
    await sink.close();
  });

  it("an fsync that fails: written() rejects with 503, onError hears once, later records throw", async () => {
    const held = heldFsync();
    const errors: unknown[] = [];
    const sink = openAuditLog(file, fixedClock(T0), (e) => errors.push(e), {
      sync: true,
      fsync: held.fsync,
    });
    const first = recordOne(sink, "j1");
    const call = await held.call(1);
    // A line written while the failing fsync runs waits for the next one: refused too.
    const waiting = recordOne(sink, "j2");
    await linesOnceWritten(2);

    const eio = Object.assign(new Error("input/output error"), { code: "EIO" });
    call.fail(eio);
    const unavailable = { code: "temporarily_unavailable", status: 503, rule: "audit.unavailable" };
    await expect(first).rejects.toMatchObject(unavailable);
    await expect(waiting).rejects.toMatchObject(unavailable);
    await expect(sink.written()).rejects.toMatchObject(unavailable);
    expect(errors).toEqual([eio]);
    expect(sink.failure?.()).toBe(eio);
    expect(() => sink.record(revoked("j3"))).toThrow(expect.objectContaining(unavailable));
    // No fsync is tried for the refused line: the log is stopped.
    expect(held.calls).toHaveLength(1);
    await sink.close();
  });

  it("close waits for the fsync in flight before it closes the descriptor", async () => {
    const held = heldFsync();
    const sink = openAuditLog(file, fixedClock(T0), undefined, { sync: true, fsync: held.fsync });
    sink.record(revoked("j1"));
    const call = await held.call(1);
    const closed = track(sink.close());
    await linesOnceWritten(1);
    expect(closed.value).toBe("pending");

    call.release();
    await sink.close();
    expect(closed.value).toBe("resolved");
  });
});

describe("audit log without sync (the default)", () => {
  it("never calls fsync: written() resolves once the line is written", async () => {
    const held = heldFsync();
    const sink = openAuditLog(file, fixedClock(T0), undefined, { fsync: held.fsync });
    await recordOne(sink, "j1");
    expect(await linesOnceWritten(1)).toHaveLength(1);
    expect(held.calls).toHaveLength(0);
    await sink.close();
  });

  it("refuses sync on stderr, which no fsync can reach", () => {
    expect(() => openAuditLog("stderr", fixedClock(T0), undefined, { sync: true })).toThrow(
      /stderr cannot be synced/,
    );
  });
});
