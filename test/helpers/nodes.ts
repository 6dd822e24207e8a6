/**
 * Many Baton nodes on one Redis (issue 6), as real processes: a `redis-server` of the test's own
 * (test/helpers/redis.ts) and several `baton serve` children (test/helpers/cli-process.ts), each
 * on its own loopback port, all sharing one store, one policy directory and ONE issuer (the
 * first node's URL: the issuer is in every token's `iss` and the dev token's `aud`, so nodes
 * behind one name must agree on it). Each node writes its own audit file.
 *
 * Also the load runner of the fault and shutdown tests: concurrent request loops over plain
 * `fetch`, each response timed, and every failure classified by its cause (a refused connection
 * is not a response cut off).
 */

import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { expect } from "vitest";
import { parseDocument } from "yaml";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "./broker.js";
import {
  type Children,
  runCli,
  type Served,
  startServe,
  stopChild,
  TEST_POLICIES,
} from "./cli-process.js";
import type { TestRedis } from "./redis.js";

export const USER = "alice@example.com";
/** The demo agents' client secrets (policies/agents.yaml says so in its comments). */
export const SECRETS: Readonly<Record<string, string>> = {
  orchestrator: "orchestrator-secret",
  "flight-booker": "flight-booker-secret",
};
export const CALENDAR = "https://calendar.example.com";
export const APPROVAL_ID = /^apr_[A-Za-z0-9_-]{22}$/;

export interface NodeOptions {
  /** Extra `baton serve` flags of this node (`--store-timeout`, `--shutdown-grace` …). */
  readonly args?: readonly string[];
  /** Extra environment of this node. */
  readonly env?: Record<string, string>;
}

export interface ClusterOptions {
  readonly redis: TestRedis;
  /** One entry per node (default: two plain nodes). */
  readonly nodes?: readonly NodeOptions[];
  /**
   * Drops `broker.rate_limit` from the copied policies: the load tests send more exchanges than
   * the demo's 600 a minute, and a 429 is not what they measure.
   */
  readonly withoutRateLimit?: boolean;
}

/** One running node: its URL, its process and its audit file. */
export interface BatonNode {
  readonly name: string;
  readonly url: string;
  readonly served: Served;
  readonly audit: string;
}

export interface AuditRecord {
  readonly type: string;
  readonly jti?: string;
  readonly txn?: string;
  readonly reason?: string;
  readonly error?: string;
  readonly rule?: string;
  readonly approval?: string;
  readonly kid?: string;
}

export class Cluster {
  private readonly children: Children;
  readonly dir: string;
  readonly redis: TestRedis;
  /** The one issuer of every node: the first node's URL. */
  readonly issuer: string;
  readonly nodes: BatonNode[] = [];

  private constructor(children: Children, dir: string, redis: TestRedis, issuer: string) {
    this.children = children;
    this.dir = dir;
    this.redis = redis;
    this.issuer = issuer;
  }

  get policies(): string {
    return join(this.dir, "policies");
  }

  /** What every command shares: the policies, the store and the issuer. */
  get shared(): string[] {
    return ["--policies", this.policies, "--store", this.redis.url, "--issuer", this.issuer];
  }

  /** Copies the demo policies, starts the nodes one after the other (the first makes the keys). */
  static async start(children: Children, options: ClusterOptions): Promise<Cluster> {
    const dir = await children.tempDir("baton-nodes-");
    await cp(TEST_POLICIES, join(dir, "policies"), { recursive: true });
    if (options.withoutRateLimit) await dropRateLimit(join(dir, "policies", "broker.yaml"));
    const specs = options.nodes ?? [{}, {}];
    const ports: number[] = [];
    while (ports.length < specs.length) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const issuer = `http://127.0.0.1:${ports[0]}`;
    const cluster = new Cluster(children, dir, options.redis, issuer);
    for (const [i, spec] of specs.entries()) {
      const name = String.fromCharCode(65 + i);
      const audit = join(dir, `audit-${name}.jsonl`);
      const served = await startServe(children, {
        port: ports[i],
        args: [...cluster.shared, "--audit", audit, ...(spec.args ?? [])],
        env: { BATON_WATCH: "0", ...spec.env },
      });
      cluster.nodes.push({ name, url: served.url, served, audit });
    }
    return cluster;
  }

  node(name: string): BatonNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** `baton <command> … --policies --store --issuer` against the cluster's store; its stdout. */
  async cli(...args: string[]): Promise<string> {
    const dir = this.dir;
    const { code, stdout, stderr } = await runCli(this.children, [
      ...args,
      ...this.shared,
      "--audit",
      join(dir, "audit-cli.jsonl"),
    ]);
    expect(code, `baton ${args.join(" ")}: ${stderr}`).toBe(0);
    return stdout;
  }

  /** A subject token of alice's from the development issuer, through the CLI. */
  /** Alice's token from the development issuer: for agents, or `--for approvals` to sign in. */
  async devToken(use: "broker" | "approvals" = "broker"): Promise<string> {
    return (await this.cli("dev-token", "--user", USER, "--for", use)).trim();
  }

  /** SIGTERM to a node; resolves with its exit code. */
  stop(node: BatonNode): Promise<number | null> {
    return stopChild(node.served.proc);
  }
}

/** Removes `broker.rate_limit`, keeping the rest of the file (comments included). */
async function dropRateLimit(file: string): Promise<void> {
  const doc = parseDocument(await readFile(file, "utf8"));
  doc.deleteIn(["broker", "rate_limit"]);
  await writeFile(file, doc.toString());
}

/** Every audit event a node wrote (the file is complete once the node has exited). */
export async function auditOf(node: BatonNode): Promise<AuditRecord[]> {
  const text = await readFile(node.audit, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as AuditRecord);
}

// ---- requests ------------------------------------------------------------------------------

export type Form = Record<string, string>;

/** POSTs a form to a node as a demo agent (client_secret_basic). */
export function post(
  url: string,
  path: string,
  form: Form,
  agent = "orchestrator",
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Response> {
  const credentials = Buffer.from(`${agent}:${SECRETS[agent]}`).toString("base64");
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${credentials}`,
      ...init.headers,
    },
    body: new URLSearchParams(form),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

/** The RFC 8693 form: alice's subject token, plus the target and anything else. */
export function exchangeForm(subject: string, form: Form): Form {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subject,
    subject_token_type: TOKEN_TYPE.jwt,
    ...form,
  };
}

export const readCalendar: Form = { audience: "calendar", scope: "calendar.read" };

export interface Answer {
  readonly status: number;
  readonly body: Record<string, any>;
  readonly headers: Headers;
}

async function answer(res: Response): Promise<Answer> {
  return {
    status: res.status,
    body: (await res.json()) as Record<string, any>,
    headers: res.headers,
  };
}

export async function exchange(
  url: string,
  subject: string,
  form: Form,
  agent = "orchestrator",
): Promise<Answer> {
  return answer(await post(url, "/token", exchangeForm(subject, form), agent));
}

/** An exchange that must succeed (200, no-store): the issued token. */
export async function issued(
  url: string,
  subject: string,
  form: Form,
  agent = "orchestrator",
): Promise<string> {
  const res = await exchange(url, subject, form, agent);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.body.access_token).toEqual(expect.any(String));
  return res.body.access_token as string;
}

/** Asserts an OAuth refusal: exact status and code, no-store, and no token in the body. */
export function expectRefusal(res: Answer, status: number, error: string): void {
  expect({ status: res.status, error: res.body.error }, JSON.stringify(res.body)).toEqual({
    status,
    error,
  });
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.body).not.toHaveProperty("access_token");
}

/** RFC 7662 at a node, as the orchestrator: the response body. */
export async function introspect(url: string, token: string): Promise<Record<string, any>> {
  const res = await post(url, "/introspect", { token });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

/** The kids a node publishes in its JWKS. */
export async function jwksKids(url: string): Promise<string[]> {
  const res = await fetch(`${url}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

export const kidOf = (token: string): string => decodeProtectedHeader(token).kid as string;
export const jtiOf = (token: string): string => decodeJwt(token).jti as string;

// ---- load ----------------------------------------------------------------------------------

/** One request of a load run: what came back, when, and how long it took. */
export interface Outcome {
  readonly target: string;
  /** Unique per request; sent as the exchange's `reason`, so the audit log names it. */
  readonly id: string;
  /** performance.now() when the request was sent. */
  readonly start: number;
  /** Until the whole body was read, or the failure. */
  readonly ms: number;
  readonly status?: number;
  readonly body?: Record<string, any>;
  readonly headers?: Headers;
  /** The failure's cause: ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, TimeoutError, … */
  readonly error?: string;
}

export interface LoadOptions {
  /** Node URLs; loop i sends to targets[i % targets.length]. */
  readonly targets: readonly string[];
  readonly loops: number;
  /** Builds one request's form; `id` is unique. */
  readonly form: (id: string) => Form;
  /** Loops run until this says stop. */
  readonly running: () => boolean;
  /** A loop whose connection is refused stops (the node no longer listens). */
  readonly stopOnRefused?: boolean;
  /** Client-side timeout of each request, far above any bound the tests assert. */
  readonly timeoutMs?: number;
  /** Called with each outcome as it arrives. */
  readonly onOutcome?: (outcome: Outcome) => void;
}

/** Runs the loops to the end; every outcome, in the order they arrived. */
export async function runLoad(options: LoadOptions): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const loop = async (i: number) => {
    const target = options.targets[i % options.targets.length] as string;
    while (options.running()) {
      const id = `load-${next++}`;
      const start = performance.now();
      let outcome: Outcome;
      try {
        const res = await post(target, "/token", options.form(id), "orchestrator", {
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
          // Names the request to a node traced by test/nodes/http-trace.cjs.
          headers: { "x-load-id": id },
        });
        const body = (await res.json()) as Record<string, any>;
        outcome = {
          target,
          id,
          start,
          ms: performance.now() - start,
          status: res.status,
          body,
          headers: res.headers,
        };
      } catch (err) {
        outcome = { target, id, start, ms: performance.now() - start, error: causeOf(err) };
      }
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
      if (outcome.error === "ECONNREFUSED" && options.stopOnRefused) return;
    }
  };
  await Promise.all(Array.from({ length: options.loops }, (_, i) => loop(i)));
  return outcomes;
}

/** The innermost code or name of a fetch failure. */
export function causeOf(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (e as { cause?: unknown })?.cause;
    if (cause === undefined) break;
    e = cause;
  }
  const { code, name, message } = (e ?? {}) as { code?: string; name?: string; message?: string };
  return code ?? (name && name !== "Error" ? name : (message ?? String(e)));
}

/** Counts by a key. */
export function tally<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** What an outcome was, in one word: `200`, `503 temporarily_unavailable`, `ECONNRESET` … */
export const kindOf = (o: Outcome): string =>
  o.error ?? `${o.status}${o.body?.error ? ` ${o.body.error}` : ""}`;

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Polls `probe` until it returns a value; fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
