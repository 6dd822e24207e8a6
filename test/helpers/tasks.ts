/**
 * Helpers of the task tests (issue 4): opening, inspecting and ending a task over the broker's
 * HTTP door (`POST /tasks`, `POST /whoami`, `POST /tasks/{id}/end`), token exchanges inside
 * one, and a three-agent tree (orchestrator → flight-booker → researcher) grown in a task.
 */

import { decodeJwt } from "jose";
import { expect } from "vitest";
import type { AuditEvent } from "../../src/audit/events.js";
import { exchange, expectIssued, type Form, type Issued } from "./assertions.js";
import { type TestBroker, TOKEN_TYPE } from "./broker.js";

/** A task as `POST /tasks` and `POST /whoami` show it (times in epoch seconds). */
export interface TaskBody {
  readonly task_id: string;
  readonly purpose: string;
  readonly ceiling: string[];
  readonly expires_at: number;
  readonly max_tokens: number;
  readonly tokens_left: number;
  readonly status: "active" | "approval_required" | "ended" | "expired";
  /** While the ceiling waits for a human (rule 6). */
  readonly approval_id?: string;
}

/** The `POST /tasks` parameters besides the subject token; numbers are sent as text. */
export interface TaskForm {
  readonly purpose?: string;
  readonly scope?: string;
  readonly template?: string;
  readonly ttl_seconds?: number;
  readonly max_tokens?: number;
}

const subjectForm = (subjectToken: string) => ({
  subject_token: subjectToken,
  subject_token_type: TOKEN_TYPE.jwt,
});

/** `POST /tasks` as `agent`; `purpose` defaults to a sentence. */
export function postTask(
  broker: TestBroker,
  agent: string,
  subjectToken: string,
  form: TaskForm,
): Promise<Response> {
  const fields: Record<string, string> = { ...subjectForm(subjectToken), purpose: "plan a trip" };
  for (const [k, v] of Object.entries(form)) if (v !== undefined) fields[k] = String(v);
  return broker.post("/tasks", fields, agent);
}

/** `POST /tasks` that must succeed: 201 and the task. */
export async function startTask(
  broker: TestBroker,
  agent: string,
  subjectToken: string,
  form: TaskForm,
): Promise<TaskBody> {
  const res = await postTask(broker, agent, subjectToken, form);
  const text = await res.text();
  expect(res.status, text).toBe(201);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return JSON.parse(text) as TaskBody;
}

/** `POST /tasks/{id}/end` as `agent`, with `subjectToken` as the subject. */
export function endTask(
  broker: TestBroker,
  agent: string,
  taskId: string,
  subjectToken: string,
): Promise<Response> {
  return broker.post(`/tasks/${taskId}/end`, subjectForm(subjectToken), agent);
}

/** `POST /whoami` as `agent`, optionally naming a task. */
export function postWhoami(
  broker: TestBroker,
  agent: string,
  subjectToken: string,
  taskId?: string,
): Promise<Response> {
  return broker.post(
    "/whoami",
    { ...subjectForm(subjectToken), ...(taskId === undefined ? {} : { task_id: taskId }) },
    agent,
  );
}

/** `POST /whoami` that must succeed: the session view. */
export async function whoami(
  broker: TestBroker,
  agent: string,
  subjectToken: string,
  taskId?: string,
): Promise<Record<string, any>> {
  const res = await postWhoami(broker, agent, subjectToken, taskId);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Record<string, any>;
}

/** `POST /introspect` (RFC 7662) as the orchestrator. */
export async function introspect(broker: TestBroker, token: string): Promise<Record<string, any>> {
  const res = await broker.post("/introspect", { token }, "orchestrator");
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

/** An access token request for one API (by id), with `task_id` when entering a task. */
export function accessForm(
  subjectToken: string,
  api: string,
  scope: string,
  extra: Form = {},
): Form {
  return { subject_token: subjectToken, audience: api, scope, ...extra };
}

/** A delegation token request for a sub-agent, with `task_id` when entering a task. */
export function delegationForm(
  subjectToken: string,
  toAgent: string,
  scope: string,
  extra: Form = {},
): Form {
  return {
    subject_token: subjectToken,
    requested_token_type: TOKEN_TYPE.jwt,
    audience: toAgent,
    scope,
    ...extra,
  };
}

/** An exchange that must issue one token, inside `txn` (when given). */
export async function issueIn(
  broker: TestBroker,
  agent: string,
  form: Form,
  txn?: string,
): Promise<Issued> {
  const issued = await expectIssued(broker, exchange(broker, form, agent));
  if (txn !== undefined) expect(issued.claims.txn).toBe(txn);
  return issued;
}

/**
 * A tree grown in a task, five tokens, each counted against the budget:
 * orchestrator (enters with task_id) → calendar token and a delegation to flight-booker →
 * flight-booker's flights token and a delegation to researcher → researcher's docs token.
 * The task's ceiling must hold calendar.read, flights.search and docs.read.
 */
export interface TaskTree {
  readonly orchestratorAccess: Issued;
  readonly toBooker: Issued;
  readonly bookerAccess: Issued;
  readonly toResearcher: Issued;
  readonly researcherAccess: Issued;
}

export async function growTree(
  broker: TestBroker,
  taskId: string,
  userToken: string,
  ttl?: number,
): Promise<TaskTree> {
  const t: Form = ttl === undefined ? {} : { ttl_seconds: String(ttl) };
  const enter = { task_id: taskId, ...t };
  const orchestratorAccess = await issueIn(
    broker,
    "orchestrator",
    accessForm(userToken, "calendar", "calendar.read", enter),
    taskId,
  );
  const toBooker = await issueIn(
    broker,
    "orchestrator",
    delegationForm(userToken, "flight-booker", "flights.search docs.read", enter),
    taskId,
  );
  // Below the opener, the delegation token carries the task: no task_id is needed.
  const bookerAccess = await issueIn(
    broker,
    "flight-booker",
    accessForm(toBooker.token, "flights", "flights.search", t),
    taskId,
  );
  const toResearcher = await issueIn(
    broker,
    "flight-booker",
    delegationForm(toBooker.token, "researcher", "docs.read", t),
    taskId,
  );
  const researcherAccess = await issueIn(
    broker,
    "researcher",
    accessForm(toResearcher.token, "docs", "docs.read", t),
    taskId,
  );
  expect(researcherAccess.chain).toEqual(["researcher", "flight-booker", "orchestrator"]);
  return { orchestratorAccess, toBooker, bookerAccess, toResearcher, researcherAccess };
}

/** Every token of a tree, by name. */
export const treeTokens = (tree: TaskTree): [string, string][] =>
  Object.entries(tree).map(([name, issued]) => [name, (issued as Issued).token]);

/** The `exchange.issued` events of one task. */
export function issuedIn(broker: TestBroker, taskId: string): AuditEvent[] {
  return broker.events.filter((e) => e.type === "exchange.issued" && e.txn === taskId);
}

/** The audit rule of the latest `exchange.denied` event. */
export function lastDeniedRule(broker: TestBroker): string | undefined {
  const denied = broker.events.filter((e) => e.type === "exchange.denied");
  const last = denied.at(-1);
  return last?.type === "exchange.denied" ? last.rule : undefined;
}

/** A token's `exp`. */
export const expOf = (token: string): number => decodeJwt(token).exp as number;
