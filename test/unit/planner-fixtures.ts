/**
 * What the planner unit tests share: the integration tests' policy (test/helpers/policy.ts)
 * compiled in memory with a task template added, a fixed clock reading, and builders for the
 * planners' inputs (a verified subject, a parsed request, a task record). No HTTP, no store,
 * no keys: the planners are pure functions of these.
 */

import { expect } from "vitest";
import type { Subject } from "../../src/exchange/steps/verify-subject.js";
import type { TokenExchangeRequest } from "../../src/exchange/types.js";
import { compilePolicy } from "../../src/policy/load.js";
import type { Agent, Policy } from "../../src/policy/types.js";
import type { TaskRecord } from "../../src/tasks/task-store.js";
import { TOKEN_TYPE } from "../../src/tokens/token-types.js";
import { testPolicy } from "../helpers/policy.js";

/** The fixed clock every planner test reads (epoch seconds). */
export const NOW = 1_700_000_000;
export const USER = "alice@example.com";
export const ISSUER = "http://127.0.0.1:8787";

/** Public keys only, never imported by a planner: the schema needs a well-formed JWK. */
const EC_JWK = {
  kty: "EC",
  crv: "P-256",
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
};

/**
 * The integration tests' policy (three APIs, five agents) plus a task template, a group of
 * approvers, and whatever `edit` changes. Durations: default_ttl 5m, max_ttl 1h, calendar
 * max_ttl 10m, docs 30m, flights none; max_depth 3.
 */
export function plannerPolicyData(
  edit: (data: Record<string, any>) => void = () => {},
): Record<string, any> {
  const data = testPolicy({
    issuer: ISSUER,
    idpJwk: EC_JWK,
    researcherJwk: { ...EC_JWK, kid: "researcher" },
    secrets: Object.fromEntries(
      ["orchestrator", "flight-booker", "researcher", "impersonator", "retired"].map((id) => [
        id,
        `${id}-secret`,
      ]),
    ),
  });
  data.broker.max_task_ttl = "2h";
  data.broker.max_task_tokens = 40;
  data.apis.docs.scopes["docs.admin"] = { description: "Administer", approval: "admins" };
  data.agents.orchestrator.scopes.push("docs.admin");
  data.tasks = {
    "book-trip": {
      ceiling: ["flights.search", "flights.book", "calendar.read"],
      max_ttl: "30m",
      max_tokens: 12,
      approval: "subject",
    },
    research: { ceiling: ["docs.read", "flights.search"] },
    "over-reach": { ceiling: ["docs.read", "calendar.read"] },
  };
  data.approvers = { admins: ["carol@example.com"] };
  edit(data);
  return data;
}

export function plannerPolicy(edit?: (data: Record<string, any>) => void): Policy {
  return compilePolicy([{ file: "planner.yaml", data: plannerPolicyData(edit) }]);
}

export function agentOf(policy: Policy, id: string): Agent {
  const agent = policy.agents.get(id);
  if (!agent) throw new Error(`no agent ${id} in the test policy`);
  return agent;
}

/** A verified subject: the user's own token (no chain), unbound, an hour to live by default. */
export function subjectOf(over: Partial<Subject> & { scopes?: ReadonlySet<string> } = {}): Subject {
  return { source: "dev", sub: USER, chain: [], exp: NOW + 3600, ...over };
}

/** A delegated subject: a delegation token held by `mayAct`, with the chain so far. */
export function delegatedSubject(
  chain: readonly string[],
  scopes: readonly string[],
  over: Partial<Subject> = {},
): Subject {
  return subjectOf({
    source: "delegation",
    chain,
    scopes: new Set(scopes),
    jti: "parent-jti",
    ...over,
  });
}

/** A parsed request for an access token (by default), as the doors hand it to the core. */
export function requestOf(over: Partial<TokenExchangeRequest> = {}): TokenExchangeRequest {
  return {
    subjectToken: "not-read-by-the-planners",
    subjectTokenType: TOKEN_TYPE.jwt,
    requestedTokenType: TOKEN_TYPE.accessToken,
    resources: [],
    audiences: [],
    ...over,
  };
}

/** A request for a delegation token to `to`. */
export const delegationRequest = (
  to: string,
  scopes: readonly string[] | undefined,
  over: Partial<TokenExchangeRequest> = {},
) =>
  requestOf({
    requestedTokenType: TOKEN_TYPE.jwt,
    audiences: [to],
    ...(scopes === undefined ? {} : { scopes }),
    ...over,
  });

export function taskOf(over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: "tsk_unit",
    purpose: "book a trip",
    agent: "orchestrator",
    subject: USER,
    ceiling: ["flights.search", "docs.read"],
    deadline: NOW + 900,
    maxTokens: 10,
    createdAt: NOW - 60,
    ...over,
  };
}

/** What a refusal carries to the door: its wire code, status and the rule behind it. */
export interface Refusal {
  readonly code: string;
  readonly status: number;
  readonly rule: string;
}

/**
 * Runs `fn`, expects it to throw a refusal, and returns its code, status and rule (asserted on
 * as data, whatever class carries them).
 */
export function refusalOf(fn: () => unknown): Refusal {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, "expected a refusal").toBeDefined();
  const { code, status, rule } = thrown as Refusal;
  return { code, status, rule };
}

/** `refusalOf` for an operation that refuses by rejecting. */
export async function asyncRefusalOf(fn: () => Promise<unknown>): Promise<Refusal> {
  const thrown = await fn().then(
    () => undefined,
    (err: unknown) => err ?? new Error("rejected with nothing"),
  );
  expect(thrown, "expected a refusal").toBeDefined();
  const { code, status, rule } = thrown as Refusal;
  return { code, status, rule };
}
