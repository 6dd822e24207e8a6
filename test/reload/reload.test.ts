/**
 * Issue 9, "done when": policy hot reload against a REAL `baton serve`, spawned through
 * `bin/baton.js` (the fresh build) on a free loopback port, with a temp SQLite store, a temp audit
 * file and a temp copy of policies/ that the tests edit under the running broker.
 *
 * Files are replaced as editors save them (write a temp file beside the directory, rename it
 * in), so a reload never reads half a file. Times are measured from the rename.
 */

import type { ChildProcess } from "node:child_process";
import { cp, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeJwt } from "jose";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import {
  Children,
  TEST_POLICIES as POLICIES,
  runCli,
  type Served,
  startServe,
  stopChild,
} from "../helpers/cli-process.js";

const USER = "alice@example.com";
const FLIGHTS = "https://flights.example.com";
const CALENDAR = "https://calendar.example.com";
/** The demo agents' client secrets (policies/agents.yaml says so in its comments). */
const SECRETS: Record<string, string> = {
  orchestrator: "orchestrator-secret",
  "flight-booker": "flight-booker-secret",
};
/** The lines of policies/agents.yaml that the tests rewrite. */
const BOOKER_SCOPES = "scopes: [flights.search, flights.book, payments.charge]";
const BOOKER_DESCRIPTION =
  "description: Books the chosen flight and pays for it with the company card";
const ORCHESTRATOR_EDGE = "    delegate_to: [flight-booker]\n";
/** A reload must be in force within this (issue 9: "within a second"). */
const RELOAD_WITHIN_MS = 1000;

interface AuditRecord {
  readonly type: string;
  readonly policy?: string;
  readonly version?: string;
  readonly previous?: string;
  readonly issues?: readonly string[];
  readonly agent?: string;
  readonly audience?: string;
  readonly scopes?: readonly string[];
  readonly error?: string;
  readonly rule?: string;
  readonly reason?: string;
  readonly kind?: string;
}

const children = new Children();
/** Every audit file a test wrote: the last test checks each event carries `policy`. */
const auditFiles: string[] = [];

afterEach(async () => {
  // Never leave a broker running: stop every child this test started, by its pid.
  await children.stopAll();
});
afterAll(() => children.removeDirs());

/** Polls `probe` every 10 ms until it returns a value; fails after `timeoutMs`. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** One running `baton serve` and everything around it, all in one temp dir. */
class Broker {
  readonly dir: string;
  readonly url: string;
  readonly child: ChildProcess;
  private readonly served: Served;
  private constructor(dir: string, served: Served) {
    this.dir = dir;
    this.served = served;
    this.url = served.url;
    this.child = served.proc;
  }

  /** What the broker wrote to stderr so far. */
  get stderr(): string {
    return this.served.stderr();
  }

  get policies() {
    return join(this.dir, "policies");
  }
  get auditFile() {
    return join(this.dir, "audit.jsonl");
  }
  /** The same store, audit log, policies and issuer for every command. */
  static shared(dir: string, url: string) {
    return [
      "--policies",
      join(dir, "policies"),
      "--store",
      `sqlite://${join(dir, "b.db")}`,
      "--audit",
      join(dir, "audit.jsonl"),
      "--issuer",
      url,
    ];
  }

  /** Copies the demo policies, starts `baton serve`, resolves once it has printed its banner. */
  static async start(env: Record<string, string> = {}): Promise<Broker> {
    const dir = await children.tempDir("baton-reload-");
    auditFiles.push(join(dir, "audit.jsonl"));
    await cp(POLICIES, join(dir, "policies"), { recursive: true });
    // These tests reload scopes and edges of flight-booker acting on the user's own token, which
    // the demo's `delegated_only` forbids: the copy drops that line (delegated-only.test.ts has it).
    await writeFile(join(dir, "policies", "agents.yaml"), agentsYaml);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const served = await startServe(children, { port, args: Broker.shared(dir, url), env });
    return new Broker(dir, served);
  }

  /** `baton dev-token` against the same store and issuer: the subject token it prints. */
  async devToken(): Promise<string> {
    const { code, stdout } = await runCli(children, [
      "dev-token",
      "--user",
      USER,
      ...Broker.shared(this.dir, this.url),
    ]);
    expect(code).toBe(0);
    return stdout.trim();
  }

  async version(): Promise<string> {
    const res = await fetch(`${this.url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; policy_version: string };
    expect(body.status).toBe("ok");
    expect(body.policy_version).toMatch(/^[0-9a-f]{16}$/);
    return body.policy_version;
  }

  /** Polls /healthz until the version is no longer `from`: the new version, and how long it took. */
  async nextVersion(from: string, since: number): Promise<{ version: string; ms: number }> {
    const version = await until("a new policy version on /healthz", async () => {
      const now = await this.version();
      return now === from ? undefined : now;
    });
    return { version, ms: performance.now() - since };
  }

  /** Replaces a policy file the way editors save: written beside, renamed in (one event). */
  async writePolicy(file: string, text: string): Promise<number> {
    const temp = join(this.dir, `${file}.tmp`);
    await writeFile(temp, text);
    await rename(temp, join(this.policies, file));
    return performance.now();
  }

  post(path: string, form: Record<string, string>, agent: string): Promise<Response> {
    const credentials = Buffer.from(`${agent}:${SECRETS[agent]}`).toString("base64");
    return fetch(`${this.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${credentials}`,
      },
      body: new URLSearchParams(form),
    });
  }

  /** A token exchange; the status, the JSON body and the no-store header. */
  async exchange(agent: string, subject: string, form: Record<string, string>) {
    const res = await this.post(
      "/token",
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: subject,
        subject_token_type: TOKEN_TYPE.jwt,
        ...form,
      },
      agent,
    );
    const body = (await res.json()) as Record<string, string>;
    return { status: res.status, body, cacheControl: res.headers.get("cache-control") };
  }

  /** An exchange that must succeed: the issued token. */
  async issued(agent: string, subject: string, form: Record<string, string>): Promise<string> {
    const { status, body } = await this.exchange(agent, subject, form);
    expect(status, JSON.stringify(body)).toBe(200);
    return body.access_token as string;
  }

  /** An exchange that must be refused with `error`: 400 (or 401), no-store, nothing issued. */
  async refused(
    agent: string,
    subject: string,
    form: Record<string, string>,
    error: string,
    status = 400,
  ): Promise<void> {
    const res = await this.exchange(agent, subject, form);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error).toBe(error);
    expect(res.cacheControl).toBe("no-store");
    expect(res.body).not.toHaveProperty("access_token");
  }

  async whoami(agent: string, subject: string): Promise<{ policy_version: string }> {
    const res = await this.post(
      "/whoami",
      { subject_token: subject, subject_token_type: TOKEN_TYPE.jwt },
      agent,
    );
    const body = (await res.json()) as { policy_version: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body;
  }

  async audit(): Promise<AuditRecord[]> {
    const text = await readFile(this.auditFile, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as AuditRecord);
  }

  /** Waits until an audit event matches (the file is appended asynchronously). */
  auditEvent(what: string, match: (event: AuditRecord) => boolean): Promise<AuditRecord> {
    return until(what, async () => (await this.audit()).find(match));
  }

  /** The `msg` of every pino line the broker wrote to stderr. */
  logMessages(): string[] {
    return this.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? "");
  }

  async stop(): Promise<void> {
    expect(await stopChild(this.child)).toBe(0);
  }
}

const agentsYaml = withoutDelegatedOnly(await readFile(join(POLICIES, "agents.yaml"), "utf8"));

/** The demo's agents.yaml without its one `delegated_only` line (it must be there). */
function withoutDelegatedOnly(yaml: string): string {
  const line = /^ {4}delegated_only: true.*\n/m;
  expect(yaml).toMatch(line);
  return yaml.replace(line, "");
}

/** policies/agents.yaml with `from` replaced by `to` (the line must be there). */
function editAgents(...edits: readonly [from: string, to: string][]): string {
  let text = agentsYaml;
  for (const [from, to] of edits) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  return text;
}

const searchFlights = { resource: FLIGHTS, scope: "flights.search" };
const delegateSearch = {
  requested_token_type: TOKEN_TYPE.jwt,
  audience: "flight-booker",
  scope: "flights.search",
};

// Each test spawns a broker and `baton dev-token`: generous time for slow machines.
describe("issue 9: policy hot reload under a running baton serve", { timeout: 60_000 }, () => {
  it("follows an edited policy file at the next exchange, within a second", async () => {
    const broker = await Broker.start();
    const user = await broker.devToken();
    const before = await broker.version();
    expect((await broker.whoami("orchestrator", user)).policy_version).toBe(before);
    // flight-booker holds no calendar scope in the demo policy.
    await broker.refused(
      "flight-booker",
      user,
      { resource: CALENDAR, scope: "calendar.read" },
      "invalid_scope",
    );
    await broker.issued("flight-booker", user, searchFlights);

    const written = await broker.writePolicy(
      "agents.yaml",
      editAgents([BOOKER_SCOPES, "scopes: [flights.book, payments.charge, calendar.read]"]),
    );
    const { version: after, ms } = await broker.nextVersion(before, written);
    console.log(`reload after a file edit: in force on /healthz ${ms.toFixed(0)} ms after rename`);
    expect(ms).toBeLessThan(RELOAD_WITHIN_MS);

    // The next exchanges follow the new rule both ways: the added scope, the removed one.
    const calendar = await broker.issued("flight-booker", user, {
      resource: CALENDAR,
      scope: "calendar.read",
    });
    expect(decodeJwt(calendar)).toMatchObject({ aud: CALENDAR, scope: "calendar.read" });
    await broker.refused("flight-booker", user, searchFlights, "invalid_scope");
    expect((await broker.whoami("orchestrator", user)).policy_version).toBe(after);
    expect((await broker.whoami("flight-booker", user)).policy_version).toBe(after);

    await broker.stop();
    const events = await broker.audit();
    expect(events.filter((e) => e.type === "policy.reloaded")).toEqual([
      expect.objectContaining({ version: after, previous: before, policy: after }),
    ]);
    const decisions = events.filter((e) => e.type.startsWith("exchange."));
    expect(decisions.map((e) => [e.type, e.audience, e.policy])).toEqual([
      ["exchange.denied", CALENDAR, before],
      ["exchange.issued", "flights", before],
      ["exchange.issued", "calendar", after],
      ["exchange.denied", FLIGHTS, after],
    ]);
    expect(broker.logMessages()).toContain("policy reloaded");
  });

  it("refuses an invalid policy, logs file and path, keeps the last good one; a fix loads", async () => {
    const broker = await Broker.start();
    const user = await broker.devToken();
    const good = await broker.version();

    // A scope reference to nothing, then an unknown key: each refused, the old version serves.
    const cases = [
      {
        text: editAgents([BOOKER_SCOPES, "scopes: [flights.search, flights.nothing]"]),
        issue: 'agents.yaml: agents.flight-booker.scopes[1]: unknown scope "flights.nothing"',
      },
      {
        text: editAgents([ORCHESTRATOR_EDGE, `${ORCHESTRATOR_EDGE}    colour: red\n`]),
        issue: "agents.yaml: agents.orchestrator.colour: unknown key",
      },
    ];
    for (const { text, issue } of cases) {
      await broker.writePolicy("agents.yaml", text);
      const rejected = await broker.auditEvent(
        `policy.rejected naming ${issue}`,
        (e) => e.type === "policy.rejected" && (e.issues ?? []).some((l) => l.startsWith(issue)),
      );
      expect(rejected).toMatchObject({ version: good, policy: good });
      // Logged as `baton policy check` prints it: `file: path: message`.
      await until("the refusal on stderr", () =>
        broker.logMessages().some((msg) => msg.startsWith(`policy: ${issue}`)) ? true : undefined,
      );
      expect(broker.stderr).toContain("the last good policy stays in force");
      // Still serving, under the old version and its rules.
      expect(await broker.version()).toBe(good);
      expect((await broker.whoami("flight-booker", user)).policy_version).toBe(good);
      await broker.issued("flight-booker", user, searchFlights);
      await broker.issued("orchestrator", user, delegateSearch);
    }

    // Fixing the file (to something new) brings a new version.
    const written = await broker.writePolicy(
      "agents.yaml",
      editAgents([BOOKER_SCOPES, "scopes: [flights.book, payments.charge]"]),
    );
    const { version: fixed, ms } = await broker.nextVersion(good, written);
    console.log(`reload after fixing an invalid file: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(RELOAD_WITHIN_MS);
    await broker.refused("flight-booker", user, searchFlights, "invalid_scope");

    await broker.stop();
    const events = await broker.audit();
    expect(events.filter((e) => e.type === "policy.rejected")).toHaveLength(2);
    expect(events.filter((e) => e.type === "policy.reloaded")).toEqual([
      expect.objectContaining({ version: fixed, previous: good }),
    ]);
    // Every decision made while the bad file lay there was made under the good version.
    const issued = events.filter((e) => e.type === "exchange.issued");
    expect(issued.map((e) => e.policy)).toEqual([good, good, good, good]);
  });

  it("a scope removed from the sub-agent stops its next exchange and its earlier delegation token", async () => {
    const broker = await Broker.start();
    const user = await broker.devToken();
    const before = await broker.version();
    // Issued before the change, carrying flights.search, for flight-booker; redeemable now.
    const delegation = await broker.issued("orchestrator", user, delegateSearch);
    expect(decodeJwt(delegation)).toMatchObject({
      scope: "flights.search",
      may_act: { sub: "flight-booker" },
    });
    await broker.issued("flight-booker", delegation, searchFlights);
    await broker.issued("flight-booker", user, searchFlights);

    const written = await broker.writePolicy(
      "agents.yaml",
      editAgents([BOOKER_SCOPES, "scopes: [flights.book, payments.charge]"]),
    );
    const { version: after, ms } = await broker.nextVersion(before, written);
    expect(ms).toBeLessThan(RELOAD_WITHIN_MS);

    // Re-evaluation, not grandfathering: both are refused, nothing is issued.
    await broker.refused("flight-booker", user, searchFlights, "invalid_scope");
    await broker.refused("flight-booker", delegation, searchFlights, "invalid_scope");
    // The orchestrator can no longer hand that scope to flight-booker either.
    await broker.refused("orchestrator", user, delegateSearch, "invalid_scope");
    // What it still holds works: the orchestrator's own search is untouched.
    await broker.issued("orchestrator", user, searchFlights);

    await broker.stop();
    const denied = (await broker.audit()).filter((e) => e.type === "exchange.denied");
    expect(denied.map((e) => [e.agent, e.rule, e.policy])).toEqual([
      ["flight-booker", "narrow.scope.agent", after],
      ["flight-booker", "narrow.scope.agent", after],
      ["orchestrator", "narrow.scope.delegate", after],
    ]);
  });

  it("a delegation edge removed stops the earlier delegation token; an agent removed cannot exchange", async () => {
    const broker = await Broker.start();
    const user = await broker.devToken();
    const v0 = await broker.version();
    const delegation = await broker.issued("orchestrator", user, delegateSearch);
    await broker.issued("flight-booker", delegation, searchFlights);

    // The orchestrator no longer delegates to flight-booker: the next hop along that edge stops.
    const noEdge = editAgents([ORCHESTRATOR_EDGE, ""]);
    const { version: v1 } = await broker.nextVersion(
      v0,
      await broker.writePolicy("agents.yaml", noEdge),
    );
    await broker.refused("orchestrator", user, delegateSearch, "invalid_target");
    await broker.refused("flight-booker", delegation, searchFlights, "invalid_request");
    // flight-booker's own rights are not touched by it.
    await broker.issued("flight-booker", user, searchFlights);

    // flight-booker removed from policy: it cannot even authenticate, let alone exchange.
    const booker = noEdge.indexOf("  flight-booker:");
    expect(booker).toBeGreaterThan(0);
    const { version: v2 } = await broker.nextVersion(
      v1,
      await broker.writePolicy("agents.yaml", noEdge.slice(0, booker).trimEnd().concat("\n")),
    );
    await broker.refused("flight-booker", user, searchFlights, "invalid_client", 401);
    await broker.issued("orchestrator", user, searchFlights);

    await broker.stop();
    const denied = (await broker.audit()).filter((e) => e.type.startsWith("exchange.denied"));
    expect(denied.map((e) => [e.agent, e.rule, e.policy])).toEqual([
      ["orchestrator", "delegate.edge", v1],
      ["flight-booker", "subject.delegation_edge", v1],
    ]);
    expect(v2).not.toBe(v0);
  });

  it("reloads on SIGHUP; with BATON_WATCH=0 an edit alone changes nothing", async () => {
    const broker = await Broker.start({ BATON_WATCH: "0" });
    const user = await broker.devToken();
    const before = await broker.version();

    await broker.writePolicy(
      "agents.yaml",
      editAgents([BOOKER_SCOPES, "scopes: [flights.book, payments.charge]"]),
    );
    // Well past the watcher's debounce: nothing reloads without the signal.
    await sleep(500);
    expect(await broker.version()).toBe(before);
    await broker.issued("flight-booker", user, searchFlights);

    const sent = performance.now();
    process.kill(broker.child.pid as number, "SIGHUP");
    const { version: after, ms } = await broker.nextVersion(before, sent);
    console.log(`reload on SIGHUP: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(RELOAD_WITHIN_MS);
    await broker.refused("flight-booker", user, searchFlights, "invalid_scope");
    expect((await broker.whoami("orchestrator", user)).policy_version).toBe(after);

    // A SIGHUP with nothing changed reloads nothing and keeps the version.
    process.kill(broker.child.pid as number, "SIGHUP");
    await sleep(200);
    expect(await broker.version()).toBe(after);

    await broker.stop();
    const events = await broker.audit();
    expect(events.filter((e) => e.type === "policy.reloaded")).toEqual([
      expect.objectContaining({ version: after, previous: before }),
    ]);
    expect(broker.child.exitCode).toBe(0);
  });

  it("200 exchanges in flight during 20 reloads: each succeeds or is refused by one version, never a 500", async () => {
    const broker = await Broker.start({ BATON_WATCH: "0" });
    const user = await broker.devToken();
    const delegation = await broker.issued("orchestrator", user, delegateSearch);
    /** Every version the broker ran, and whether flight-booker held flights.search under it. */
    const ran = new Map<string, boolean>([[await broker.version(), true]]);
    let current = [...ran.keys()][0] as string;
    const outcomes: Promise<{ status: number; error?: string }>[] = [];

    // Odd revisions drop flights.search from flight-booker; every revision is a new version.
    const revision = (n: number) =>
      editAgents(
        [BOOKER_DESCRIPTION, `${BOOKER_DESCRIPTION} (revision ${n})`],
        ...(n % 2 === 1
          ? [[BOOKER_SCOPES, "scopes: [flights.book, payments.charge]"] as [string, string]]
          : []),
      );
    let inFlight = 0;
    let mostInFlight = 0;
    const ask = (i: number) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      return (
        i % 2 === 0
          ? broker.exchange("flight-booker", user, { ...searchFlights, reason: `r${i}` })
          : broker.exchange("flight-booker", delegation, { ...searchFlights, reason: `r${i}` })
      )
        .then(
          ({ status, body }) => ({ status, ...(body.error ? { error: body.error } : {}) }),
          // A dropped connection or a body that is not JSON: never acceptable.
          (err: unknown) => ({ status: 0, error: String(err) }),
        )
        .finally(() => {
          inFlight--;
        });
    };

    const started = performance.now();
    const latencies: number[] = [];
    for (let n = 1; n <= 20; n++) {
      // Ten per reload: five sent before the file changes, five as the signal lands.
      for (let k = 0; k < 5; k++) outcomes.push(ask(outcomes.length));
      await broker.writePolicy("agents.yaml", revision(n));
      const sent = performance.now();
      process.kill(broker.child.pid as number, "SIGHUP");
      for (let k = 0; k < 5; k++) outcomes.push(ask(outcomes.length));
      const { version, ms } = await broker.nextVersion(current, sent);
      latencies.push(ms);
      expect(ran.has(version)).toBe(false);
      ran.set(version, n % 2 === 0);
      current = version;
    }
    const results = await Promise.all(outcomes);
    const elapsed = performance.now() - started;
    console.log(
      `200 exchanges during 20 SIGHUP reloads: ${elapsed.toFixed(0)} ms in all; reload ` +
        `latency max ${Math.max(...latencies).toFixed(0)} ms, ` +
        `mean ${(latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(0)} ms`,
    );

    expect(results).toHaveLength(200);
    for (const result of results) {
      expect([200, 400], JSON.stringify(result)).toContain(result.status);
      if (result.status === 400) expect(result.error).toBe("invalid_scope");
    }
    const counts = { ok: 0, refused: 0 };
    for (const r of results) counts[r.status === 200 ? "ok" : "refused"]++;
    console.log(
      `  ${counts.ok} issued, ${counts.refused} refused, at most ${mostInFlight} in flight`,
    );
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);

    await broker.stop();
    expect(broker.stderr).not.toContain("request failed");
    const events = await broker.audit();
    // The broker's own account of its versions agrees with what /healthz showed.
    const reloaded = events.filter((e) => e.type === "policy.reloaded");
    expect(reloaded.map((e) => e.version)).toEqual([...ran.keys()].slice(1));
    expect(reloaded.map((e) => e.previous)).toEqual([...ran.keys()].slice(0, -1));
    // Each of the 200 decisions names a version the broker ran, and is that version's answer.
    const decisions = events.filter(
      (e) => e.type.startsWith("exchange.") && e.reason?.startsWith("r") === true,
    );
    expect(decisions).toHaveLength(200);
    console.log(
      `  decided under ${new Set(decisions.map((e) => e.policy)).size} of ${ran.size} versions`,
    );
    for (const e of decisions) {
      expect(ran.has(e.policy as string), JSON.stringify(e)).toBe(true);
      const held = ran.get(e.policy as string);
      expect(e.type, JSON.stringify(e)).toBe(held ? "exchange.issued" : "exchange.denied");
    }
    const statusByReason = new Map(results.map((r, i) => [`r${i}`, r.status]));
    for (const e of decisions) {
      expect(statusByReason.get(e.reason as string)).toBe(e.type === "exchange.issued" ? 200 : 400);
    }
  });

  it("every audit event records the policy version it was decided under", async () => {
    // Its own broker, then the audit files of every test above that ran (in file order).
    const broker = await Broker.start();
    const user = await broker.devToken();
    const version = await broker.version();
    expect((await broker.whoami("orchestrator", user)).policy_version).toBe(version);
    await broker.issued("orchestrator", user, searchFlights);
    await broker.refused(
      "orchestrator",
      user,
      { resource: FLIGHTS, scope: "nope" },
      "invalid_scope",
    );
    await broker.stop();

    const own = await broker.audit();
    expect(own.map((e) => e.type)).toEqual([
      "dev_token.issued",
      "exchange.issued",
      "exchange.denied",
    ]);
    expect(own.map((e) => e.policy)).toEqual([version, version, version]);
    let count = 0;
    for (const file of auditFiles) {
      const text = await readFile(file, "utf8").catch(() => "");
      for (const line of text.split("\n").filter(Boolean)) {
        const event = JSON.parse(line) as AuditRecord;
        expect(event.policy, line).toMatch(/^[0-9a-f]{16}$/);
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(own.length);
  });
});
