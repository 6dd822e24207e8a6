/**
 * No audit log, no token (design §4 rules 8 and 9; issue 7's "every exchange still writes its
 * audit event"): a real `baton serve` whose audit log is /dev/full (every write fails with
 * ENOSPC) keeps running, refuses every exchange with 503 from the first, reports
 * itself unready, and logs the failure once, without a token in it.
 */

import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import { Children, runBaton, startServe, TEST_POLICIES } from "../helpers/cli-process.js";
import { ALICE, DEMO_SECRETS } from "../helpers/mcp.js";

const children = new Children();
afterAll(() => children.cleanup());

const exchange = (url: string, subject: string) =>
  fetch(`${url}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`orchestrator:${DEMO_SECRETS.orchestrator}`).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subject,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "calendar",
      scope: "calendar.read",
    }),
  });

describe("the audit log cannot be written (a full disk)", () => {
  it("every exchange, from the first, is refused with 503 and no token; /readyz says unavailable", async () => {
    const dir = await children.tempDir("baton-audit-full-");
    const store = ["--policies", TEST_POLICIES, "--store", `sqlite://${join(dir, "baton.db")}`];
    const served = await startServe(children, {
      args: [...store, "--audit", "/dev/full"],
      env: { BATON_WATCH: "0" },
    });
    const subject = (
      await runBaton(children, [
        "dev-token",
        "--user",
        ALICE,
        ...store,
        "--audit",
        join(dir, "cli-audit.jsonl"),
        "--issuer",
        served.url,
      ])
    ).trim();

    // A token leaves only once its audit event is written: the very first exchange, whose
    // write fails, is refused, and so is every one after it.
    for (let i = 0; i < 5; i++) {
      const res = await exchange(served.url, subject);
      expect(res.status, `exchange ${i}`).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = (await res.json()) as Record<string, unknown>;
      expect(body.error).toBe("temporarily_unavailable");
      expect(body).not.toHaveProperty("access_token");
    }
    const ready = await fetch(`${served.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "unavailable" });
    // Alive (no crash, no restart loop): liveness still answers.
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect(served.proc.exitCode).toBeNull();
    // One log line for the failure, none per refused request, and no token anywhere in it.
    const log = served.stderr();
    expect(log.match(/the audit log cannot be written/g)).toHaveLength(1);
    expect(log).not.toContain("request failed");
    expect(log).not.toContain(subject.split(".")[2] as string);
  }, 60_000);
});
