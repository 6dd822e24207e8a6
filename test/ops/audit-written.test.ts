/**
 * No token leaves before its audit event is written (rule 8, for the audit trail): so a crash of
 * the process right after a response can never lose the record of the token it carried.
 *
 * Made deterministic with a named pipe: a real `baton serve` writes its audit log into a FIFO
 * that `cat` copies to a file. Stopping `cat` (SIGSTOP) lets the pipe fill (64 KiB on Linux);
 * the node's next write then cannot complete, and the exchange waiting on it must not answer,
 * however long it waits. Once `cat` goes on, the token comes, and its line is in the copy. A
 * broker that only queued its audit lines in memory would go on issuing tokens here.
 */

import { execFileSync, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Children, runBaton, startServe, storeFlags } from "../helpers/cli-process.js";
import { ALICE } from "../helpers/mcp.js";
import { type Answer, exchange, issued, jtiOf, readCalendar, until } from "../helpers/nodes.js";

const children = new Children();
afterAll(() => children.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("rule 8: a token leaves only once its audit event is written", () => {
  it("while the audit log cannot take a line, the exchange waits; then its token comes, recorded", async () => {
    const dir = await children.tempDir("baton-audit-fifo-");
    const fifo = join(dir, "audit.fifo");
    const copy = join(dir, "audit-copy.jsonl");
    execFileSync("mkfifo", [fifo]);
    const reader = spawn("cat", [fifo], { stdio: ["ignore", openSync(copy, "w"), "ignore"] });
    children.track(reader);
    const served = await startServe(children, {
      args: storeFlags(dir, { audit: fifo }),
      env: { BATON_WATCH: "0" },
    });
    const subject = (
      await runBaton(children, [
        "dev-token",
        "--user",
        ALICE,
        ...storeFlags(dir, { audit: join(dir, "cli-audit.jsonl"), issuer: served.url }),
      ])
    ).trim();
    const copied = async () => readFile(copy, "utf8");
    const first = jtiOf(await issued(served.url, subject, readCalendar));
    await until("the first event in the copy", async () =>
      (await copied()).includes(first) ? true : undefined,
    );

    reader.kill("SIGSTOP");
    const answered: string[] = [first];
    let held: Promise<Answer> | undefined;
    // 64 KiB holds some 150 events; 500 exchanges stay under the demo's 600/min rate limit.
    for (let i = 0; i < 500 && held === undefined; i++) {
      let settled: Answer | undefined;
      const pending = exchange(served.url, subject, readCalendar).then((a) => {
        settled = a;
        return a;
      });
      await Promise.race([pending, sleep(1_500)]);
      // Slow is not held: a held exchange stays unanswered for as long as the pipe is full.
      if (settled === undefined) await sleep(1_500);
      if (settled === undefined) held = pending;
      else {
        expect(settled.status, JSON.stringify(settled.body)).toBe(200);
        answered.push(jtiOf(settled.body.access_token));
      }
    }
    expect(held, "an exchange waits once the audit pipe is full").toBeDefined();
    // Some lines fit in the pipe first: the node was answering until it could not write.
    expect(answered.length).toBeGreaterThan(10);
    // Waiting on the log does not stall the node: it still answers what needs no audit line.
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);

    reader.kill("SIGCONT");
    const late = (await held) as Answer;
    expect(late.status, JSON.stringify(late.body)).toBe(200);
    answered.push(jtiOf(late.body.access_token));
    // Every token that left the node is in the audit log, the held one included.
    await until("every answered token's event in the copy", async () => {
      const text = await copied();
      return answered.every((jti) => text.includes(`"jti":"${jti}"`)) ? true : undefined;
    });
  }, 120_000);
});
