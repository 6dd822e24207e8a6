/**
 * Issue 8: `baton audit [--task ID]` (design §3.1), spawned for real, reading the audit file a
 * real `baton serve` wrote while real exchanges went through it: a task opened, a delegation,
 * tokens issued, one revoked (then the whole branch, rule 7).
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Children, runBaton, runCli, startServe, storeFlags } from "../helpers/cli-process.js";
import { ALICE } from "../helpers/mcp.js";
import { growStory, openTask, postAs, type Story } from "../helpers/task-story.js";

const children = new Children();
let dir: string;
let audit: string;
let url: string;
let taskId: string;
let story: Story;

const shared = () => storeFlags(dir, { audit });

const baton = (args: readonly string[]) => runCli(children, args);

beforeAll(async () => {
  dir = await children.tempDir("baton-audit-");
  audit = join(dir, "audit.jsonl");
  const served = await startServe(children, { args: shared() });
  url = served.url;
  const subject = (
    await runBaton(children, ["dev-token", "--user", ALICE, ...shared(), "--issuer", url])
  ).trim();
  const task = await openTask(
    url,
    subject,
    "Book Alice's Berlin trip",
    "calendar.read flights.search",
  );
  expect(task.status).toBe("active");
  taskId = task.task_id;
  story = await growStory(url, subject, taskId, "flights.search");
}, 60_000);

afterAll(() => children.cleanup());

/** The tree lines of `baton audit --task`, jtis replaced by names, times by `T`. */
function named(stdout: string): string[] {
  const names = Object.entries(story).filter(([k]) => k !== "toBookerToken");
  return stdout
    .trimEnd()
    .split("\n")
    .map((line) => {
      let out = line
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, "T")
        .replace(/\(in \d+ (min|s)\)/g, "(in …)");
      for (const [name, jti] of names) out = out.replace(jti as string, name);
      return out;
    });
}

describe("issue 8: baton audit --task draws the delegation tree", () => {
  it("shows the task, then every token nested under its parent, one revoked", async () => {
    const { code, stdout, stderr } = await baton(["audit", "--task", taskId, ...shared()]);
    expect(code, stderr).toBe(0);
    expect(stderr).toBe("");
    expect(named(stdout)).toEqual([
      `Task ${taskId}  open`,
      `  purpose   "Book Alice's Berlin trip"`,
      `  user      ${ALICE} (opened by orchestrator)`,
      "  ceiling   calendar.read flights.search",
      "  deadline  T (in …)",
      "  tokens    5 issued of at most 1000",
      "├─ access orchestrator → calendar [calendar.read]  active, expires T (in …)  jti calendar",
      "└─ delegation orchestrator → flight-booker [flights.search]  active, expires T (in …)  jti toBooker",
      "   ├─ access flight-booker → flights [flights.search]  active, expires T (in …)  jti search",
      "   ├─ access flight-booker → flights [flights.search]  REVOKED T  jti revoked",
      "   └─ access flight-booker → flights [flights.search]  active, expires T (in …)  jti booking",
    ]);
    // Rule 9: the audit names tokens by jti only; no token ever reaches the output.
    expect(stdout).not.toContain(story.toBookerToken);
    expect(stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
  });

  it("--json gives the same tree as data", async () => {
    const { code, stdout } = await baton(["audit", "--task", taskId, "--json", ...shared()]);
    expect(code).toBe(0);
    const tree = JSON.parse(stdout);
    expect(tree.task).toMatchObject({ id: taskId, subject: ALICE, status: "open" });
    expect(
      tree.roots[1].children.map((n: { jti: string; status: string }) => [n.jti, n.status]),
    ).toEqual([
      [story.search, "active"],
      [story.revoked, "revoked"],
      [story.booking, "active"],
    ]);
  });

  it("rule 7: revoking the delegation greys the whole branch", async () => {
    const gone = await postAs(url, "/revoke", { token: story.toBookerToken }, "orchestrator");
    expect(gone.status).toBe(200);
    // The served broker appends to the file; the command reads whatever has landed.
    await expect
      .poll(async () => (await baton(["audit", "--task", taskId, ...shared()])).stdout, {
        timeout: 10_000,
      })
      .toContain(`flight-booker [flights.search]  REVOKED`);
    const { stdout } = await baton(["audit", "--task", taskId, ...shared()]);
    const lines = named(stdout);
    expect(lines.slice(6)).toEqual([
      "├─ access orchestrator → calendar [calendar.read]  active, expires T (in …)  jti calendar",
      "└─ delegation orchestrator → flight-booker [flights.search]  REVOKED T  jti toBooker",
      "   ├─ access flight-booker → flights [flights.search]  REVOKED T (an ancestor was revoked)  jti search",
      "   ├─ access flight-booker → flights [flights.search]  REVOKED T  jti revoked",
      "   └─ access flight-booker → flights [flights.search]  REVOKED T (an ancestor was revoked)  jti booking",
    ]);
  });
});

describe("baton audit: the log, one line per event", () => {
  it("prints every event, oldest first, readable", async () => {
    const { code, stdout } = await baton(["audit", ...shared()]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    const types = lines.map((l) => l.split(/\s+/)[1]);
    expect(types.slice(0, 2)).toEqual(["dev_token.issued", "task.started"]);
    expect(types.filter((t) => t === "exchange.issued")).toHaveLength(5);
    expect(types.filter((t) => t === "token.revoked")).toHaveLength(2);
    const started = lines.find((l) => l.includes("task.started")) ?? "";
    expect(started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}task\.started {7}/);
    expect(started).toContain(`task=${taskId}`);
    expect(started).toContain('purpose="Book Alice\'s Berlin trip"');
    expect(started).toContain("ceiling=[calendar.read flights.search]");
    expect(started).toMatch(/deadline=\d{4}-\d\d-\d\dT/);
  });

  it("--json prints the raw lines; --limit the last N", async () => {
    const all = await baton(["audit", "--json", ...shared()]);
    const last = await baton(["audit", "--json", "--limit", "2", ...shared()]);
    const raw = all.stdout.trimEnd().split("\n");
    expect(raw.map((l) => JSON.parse(l).type)).toContain("exchange.issued");
    expect(last.stdout.trimEnd().split("\n")).toEqual(raw.slice(-2));
    const since = await baton(["audit", "--since", "1h", "--limit", "1", ...shared()]);
    expect(since.stdout.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("baton audit: refusals exit 1 with a clear message", () => {
  it("an unknown task id", async () => {
    const { code, stdout, stderr } = await baton([
      "audit",
      "--task",
      "tsk_nosuchtask",
      ...shared(),
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(`baton: no task "tsk_nosuchtask" in the audit log ${audit}\n`);
  });

  it("a missing log, a log on stderr, bad options", async () => {
    const missing = join(dir, "none.jsonl");
    const gone = await baton(["audit", "--audit", missing]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(
      `baton: audit log ${missing}: not found (name it with --audit or BATON_AUDIT)\n`,
    );
    const stderr = await baton(["audit", "--audit", "stderr"]);
    expect(stderr.code).toBe(1);
    expect(stderr.stderr).toContain("the audit log goes to stderr");
    const limit = await baton(["audit", "--limit", "zero", ...shared()]);
    expect(limit.code).toBe(1);
    expect(limit.stderr).toBe("baton: --limit: must be a positive whole number\n");
  });

  it("a torn line is skipped and counted, the rest still reads", async () => {
    const torn = join(dir, "torn.jsonl");
    await writeFile(
      torn,
      `${JSON.stringify({ ts: 1, type: "key.rotated", kid: "k1" })}\n{"ts":2,"type":"key.ro`,
    );
    const { code, stdout, stderr } = await baton(["audit", "--audit", torn]);
    expect(code).toBe(0);
    expect(stdout).toBe("1970-01-01T00:00:01Z  key.rotated        kid=k1\n");
    expect(stderr).toBe("baton: 1 unreadable line skipped\n");
  });
});

describe("issue 17: baton audit --denied says why a request was refused", () => {
  const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
  let otherPort: string;

  beforeAll(async () => {
    // The newcomer's mistake: a dev token minted for another port than the server's.
    otherPort = (
      await runBaton(children, [
        "dev-token",
        "--user",
        ALICE,
        ...shared(),
        "--issuer",
        "http://127.0.0.1:1",
      ])
    ).trim();
    const refused = await postAs(
      url,
      "/token",
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: otherPort,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        audience: "calendar",
        scope: "calendar.read",
      },
      "orchestrator",
    );
    expect(refused.status).toBe(400);
    const wrongSecret = await fetch(`${url}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("orchestrator:nope").toString("base64")}` },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE }),
    });
    expect(wrongSecret.status).toBe(401);
  });

  it("each refusal: time, agent, user, target, then the rule in plain words", async () => {
    await expect
      .poll(async () => (await baton(["audit", "--denied", ...shared()])).stdout, {
        timeout: 10_000,
      })
      .toContain("client secret is wrong");
    const { code, stdout, stderr } = await baton(["audit", "--denied", ...shared()]);
    expect(code, stderr).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.slice(-4)).toEqual([
      expect.stringMatching(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}refused invalid_request {2}agent orchestrator {2}for calendar \[calendar.read\]$/,
      ),
      "    why: the subject token's issuer is not trusted by this broker (was it minted for another port or issuer?) (subject.untrusted_issuer)",
      expect.stringMatching(/Z {2}authentication failed {2}agent orchestrator$/),
      "    why: the agent is unknown or its client secret is wrong (client.secret)",
    ]);
    // Only refusals: nothing issued, revoked or started shows up.
    expect(stdout).not.toMatch(/exchange\.issued|task\.started|token\.revoked/);
    expect(stdout).not.toContain(otherPort);
  });

  it("combines with --limit, --since and --json (the raw line plus its words)", async () => {
    const last = await baton(["audit", "--denied", "--limit", "1", "--since", "1h", ...shared()]);
    expect(last.stdout.trimEnd().split("\n")).toHaveLength(2);
    expect(last.stdout).toContain("(client.secret)");
    const json = await baton(["audit", "--denied", "--json", "--limit", "2", ...shared()]);
    const events = json.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.type, e.rule])).toEqual([
      ["exchange.denied", "subject.untrusted_issuer"],
      ["client.auth_failed", "client.secret"],
    ]);
    expect(events[0].why).toMatch(/^the subject token's issuer is not trusted/);
    const future = await baton([
      "audit",
      "--denied",
      "--since",
      "2999-01-01T00:00:00Z",
      ...shared(),
    ]);
    expect(future.stdout).toBe("No refusals.\n");
    const both = await baton(["audit", "--denied", "--task", taskId, ...shared()]);
    expect(both.code).toBe(1);
  });
});
