/**
 * `explainGrant` (issue 8): the verdict and the rules that decide, on small YAML policies, and
 * agreement with the real broker: the same questions asked of `POST /token` get the same answer.
 */

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExplanationText, explanationText, render } from "../../src/cli/explain-text.js";
import {
  ExplainInputError,
  type ExplainQuery,
  type Explanation,
  explainGrant,
} from "../../src/exchange/broker.js";
import { decideApproval } from "../../src/exchange/operations/decide-approval.js";
import { loadPolicy } from "../../src/policy/load.js";
import type { Policy } from "../../src/policy/types.js";
import { ALICE } from "../helpers/approvals.js";
import { exchange } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { accessForm, delegationForm, lastDeniedRule, postTask } from "../helpers/tasks.js";
import { tempPolicyDir } from "./fixtures.js";

const HASH = "c".repeat(64);

const policyYaml = (maxDepth = 3) => `
broker:
  default_ttl: 5m
  max_ttl: 1h
  max_depth: ${maxDepth}
apis:
  calendar:
    resource: https://calendar.example.com
    max_ttl: 10m
    scopes:
      calendar.read: Read events
      calendar.write: { description: Change events, approval: subject }
  payments:
    resource: https://payments.example.com
    scopes:
      payments.charge: { description: Charge the card, approval: admins }
agents:
  planner:
    secret_sha256: ${HASH}
    scopes: [calendar.read, calendar.write, payments.charge]
    delegate_to: [helper]
  helper:
    secret_sha256: ${HASH}
    scopes: [calendar.read, calendar.write]
    delegate_to: [deep]
  deep:
    secret_sha256: ${HASH}
    scopes: [calendar.read]
    delegate_to: [planner]
  ghost:
    secret_sha256: ${HASH}
    scopes: [calendar.read]
    disabled: true
  mimic:
    secret_sha256: ${HASH}
    scopes: [calendar.read]
    impersonate: true
tasks:
  plan:
    ceiling: [calendar.read, calendar.write]
    max_ttl: 30m
    approval: subject
  pay:
    ceiling: [payments.charge, calendar.read]
approvers:
  admins: [carol@example.com]
`;

const dirs: string[] = [];
async function policyOf(yaml: string): Promise<Policy> {
  const dir = await tempPolicyDir({ "policy.yaml": yaml });
  dirs.push(dir);
  return loadPolicy(dir);
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

let policy: Policy;
beforeAll(async () => {
  policy = await policyOf(policyYaml());
});

/** The core's replay, in the words `baton policy explain` prints. */
const explain = (query: Partial<ExplainQuery> & { scopes: string[] }) =>
  explanationText(explainGrant(policy, { agent: "planner", api: "calendar", ...query }));

/** The finding that refused: exactly one, and the last. */
function refusing(e: ExplanationText) {
  const failed = e.findings.filter((f) => !f.ok);
  expect(failed).toHaveLength(1);
  expect(e.findings.at(-1)).toBe(failed[0]);
  return failed[0];
}

describe("explainGrant: issued (design §4 rules 1, 2, 4)", () => {
  it("a plain scope: issued, every rule that decided, the lifetime figures", () => {
    const e = explain({ scopes: ["calendar.read"] });
    expect(e.verdict).toEqual({ kind: "issued" });
    expect(render(e)).toEqual([
      "issued",
      "  agent planner: enabled ✓",
      "  api calendar: aud https://calendar.example.com ✓",
      "  scope calendar.read: in API calendar ✓, in agent planner's scopes ✓",
      "  act chain planner (outermost first, 1 of max_depth 3) ✓",
      "  lifetime: 5m by default (default_ttl 5m), at most 10m (API calendar max_ttl 10m, broker max_ttl 1h)",
      "  assumes: the user's token bounds no scope and outlives the grant",
    ]);
    expect(e.grant).toEqual({
      agent: "planner",
      api: "calendar",
      resource: "https://calendar.example.com",
      scopes: ["calendar.read"],
      act: ["planner"],
      defaultTtl: 300,
      maxTtl: 600,
    });
  });

  it("names the API by its resource URI too (rule 3)", () => {
    const e = explain({ api: "https://calendar.example.com", scopes: ["calendar.read"] });
    expect(e.verdict).toEqual({ kind: "issued" });
    expect(e.grant?.api).toBe("calendar");
  });

  it("along a delegation chain: each edge, the act chain outermost first", () => {
    const e = explain({ agent: "deep", via: ["planner", "helper"], scopes: ["calendar.read"] });
    expect(e.verdict).toEqual({ kind: "issued" });
    expect(e.grant?.act).toEqual(["deep", "helper", "planner"]);
    expect(e.findings.map((f) => f.text)).toContain(
      "delegation helper → deep: deep in helper's delegate_to ✓, helper's scopes hold calendar.read ✓, deep's scopes hold calendar.read ✓, act chain deep, helper, planner (3 of max_depth 3) ✓",
    );
  });

  it("an impersonating agent on the user's own token: no act (RFC 8693 §1.1)", () => {
    const e = explain({ agent: "mimic", scopes: ["calendar.read"] });
    expect(e.verdict).toEqual({ kind: "issued" });
    expect(e.grant?.act).toEqual([]);
    expect(render(e)).toContain(
      "  act: none: mimic may impersonate and acts on the user's own token (RFC 8693 §1.1)",
    );
  });
});

describe("explainGrant: approvals (design §4 rule 6)", () => {
  it("an elevated scope waits for its approver, per grant", () => {
    const e = explain({ scopes: ["calendar.write"] });
    expect(e.verdict).toEqual({ kind: "approval", approvers: ["subject"], at: "grant" });
    expect(render(e)[0]).toBe("issued after approval by subject");
    expect(render(e)).toContain(
      "  scope calendar.write: in API calendar ✓, in agent planner's scopes ✓, elevated: approval by subject",
    );
  });

  it("a group approver is named", () => {
    const e = explain({ api: "payments", scopes: ["payments.charge"] });
    expect(e.verdict).toEqual({ kind: "approval", approvers: ["admins"], at: "grant" });
  });

  it("a task template's approval covers its ceiling once, for delegated grants too", () => {
    const e = explain({
      agent: "helper",
      via: ["planner"],
      task: "plan",
      scopes: ["calendar.write"],
    });
    expect(e.verdict).toEqual({ kind: "approval", approvers: ["subject"], at: "task" });
    const lines = render(e);
    expect(lines).toContain(
      "  task plan: one approval by subject when it opens covers the agents it names: the opener and each agent a delegation reaches with an elevated scope of the ceiling (rule 6)",
    );
    expect(lines).toContain(
      "  scope calendar.write: in API calendar ✓, in agent helper's scopes ✓, in task plan's ceiling ✓, elevated: approval by subject, given once for the task",
    );
    // The task deadline (30m) caps nothing here: the API's 10m is shorter.
    expect(e.grant).toMatchObject({ act: ["helper", "planner"], defaultTtl: 300, maxTtl: 600 });
  });

  it("a template without `approval` still waits when its ceiling holds an elevated scope", () => {
    const e = explain({ task: "pay", scopes: ["calendar.read"] });
    expect(e.verdict).toEqual({ kind: "approval", approvers: ["admins"], at: "task" });
  });
});

describe("explainGrant: refusals carry the broker's code and rule", () => {
  const cases: [string, Partial<ExplainQuery> & { scopes: string[] }, string, string][] = [
    [
      "scope not the agent's",
      { agent: "deep", scopes: ["calendar.write"] },
      "invalid_scope",
      "narrow.scope.agent",
    ],
    ["scope of another API", { scopes: ["payments.charge"] }, "invalid_scope", "narrow.scope.api"],
    ["unknown scope", { scopes: ["calendar.delete"] }, "invalid_scope", "narrow.scope.unknown"],
    [
      "disabled agent",
      { agent: "ghost", scopes: ["calendar.read"] },
      "unauthorized_client",
      "client.disabled",
    ],
    [
      "no delegate_to edge",
      { agent: "helper", via: ["deep"], scopes: ["calendar.read"] },
      "invalid_target",
      "delegate.edge",
    ],
    [
      "sub-agent lacks the scope",
      { agent: "deep", via: ["helper"], scopes: ["calendar.write"] },
      "invalid_scope",
      "narrow.scope.delegate",
    ],
    [
      "delegator lacks the scope",
      { agent: "planner", via: ["deep"], scopes: ["calendar.write"] },
      "invalid_scope",
      "narrow.scope.agent",
    ],
    [
      "a cycle",
      { agent: "planner", via: ["planner", "helper", "deep"], scopes: ["calendar.read"] },
      "invalid_request",
      "chain.cycle",
    ],
    [
      "outside the task ceiling",
      { api: "payments", task: "plan", scopes: ["payments.charge"] },
      "invalid_scope",
      "narrow.scope.task",
    ],
    [
      "opener lacks the template's ceiling",
      { agent: "helper", task: "pay", scopes: ["calendar.read"] },
      "invalid_scope",
      "narrow.scope.agent",
    ],
    [
      "disabled opener",
      { agent: "deep", via: ["ghost"], scopes: ["calendar.read"] },
      "unauthorized_client",
      "client.disabled",
    ],
  ];
  it.each(cases)("%s", (_name, query, error, rule) => {
    const e = explain(query);
    expect(e.verdict).toEqual({ kind: "refused", error, rule });
    expect(refusing(e)?.rule).toBe(rule);
    expect(render(e)[0]).toBe(`refused: ${error} (${rule})`);
    expect(e.grant).toBeUndefined();
  });

  it("the refusing line names the rule and marks what failed", () => {
    const lines = render(explain({ agent: "deep", via: ["helper"], scopes: ["calendar.write"] }));
    expect(lines).toEqual([
      "refused: invalid_scope (narrow.scope.delegate)",
      "  agent helper: enabled ✓",
      "  delegation helper → deep: deep in helper's delegate_to ✓, helper's scopes hold calendar.write ✓, deep's scopes lack calendar.write ✗, act chain deep, helper (2 of max_depth 3) ✓ ← narrow.scope.delegate",
      expect.stringMatching(/^ {2}assumes: /),
    ]);
  });

  it("a chain past max_depth (rule 4)", async () => {
    const shallow = await policyOf(policyYaml(2));
    const e = explanationText(
      explainGrant(shallow, {
        agent: "deep",
        api: "calendar",
        via: ["planner", "helper"],
        scopes: ["calendar.read"],
      }),
    );
    expect(e.verdict).toEqual({ kind: "refused", error: "invalid_request", rule: "chain.depth" });
    expect(refusing(e)?.text).toMatch(/act chain deep, helper, planner \(3 of max_depth 2\) ✗$/);
  });
});

describe("explainGrant: bad input is not a refusal", () => {
  const cases: [string, ExplainQuery, RegExp][] = [
    [
      "agent",
      { agent: "nobody", api: "calendar", scopes: ["calendar.read"] },
      /^unknown agent "nobody" \(known: planner, helper, deep, ghost, mimic\)$/,
    ],
    [
      "delegator",
      { agent: "helper", api: "calendar", via: ["nobody"], scopes: ["calendar.read"] },
      /^unknown agent "nobody"/,
    ],
    [
      "API",
      { agent: "planner", api: "mail", scopes: ["calendar.read"] },
      /^unknown API "mail" \(known: calendar, payments\)$/,
    ],
    [
      "task template",
      { agent: "planner", api: "calendar", task: "nope", scopes: ["calendar.read"] },
      /^unknown task template "nope" \(known: plan, pay\)$/,
    ],
    ["no scope", { agent: "planner", api: "calendar", scopes: [] }, /^name at least one scope$/],
  ];
  it.each(cases)("unknown %s", (_name, query, message) => {
    expect(() => explainGrant(policy, query)).toThrow(ExplainInputError);
    expect(() => explainGrant(policy, query)).toThrow(message);
  });
});

// ---------------------------------------------------------------------------------------------
// Agreement with the real broker: the same question, asked of POST /token.

type Outcome =
  | { kind: "issued" }
  | { kind: "approval"; at: "grant" | "task" }
  | { kind: "refused"; error: string; rule?: string };

/** What the real broker says to `query`, step by step over HTTP, as a user's agent would ask. */
async function askBroker(broker: TestBroker, query: ExplainQuery): Promise<Outcome> {
  const user = await broker.devToken(ALICE);
  const scope = query.scopes.join(" ");
  const via = query.via ?? [];
  let enter: Record<string, string> = {};
  let taskApproval = false;
  if (query.task !== undefined) {
    const res = await postTask(broker, via[0] ?? query.agent, user, { template: query.task });
    const body = (await res.json()) as Record<string, string>;
    if (res.status !== 201) return { kind: "refused", error: body.error as string };
    if (body.status === "approval_required") {
      taskApproval = true;
      await decideApproval(
        broker.deps,
        body.approval_id as string,
        "approved",
        { person: ALICE },
        "web",
      );
    }
    enter = { task_id: body.task_id as string };
  }
  const refused = async (res: Response): Promise<Outcome> => {
    const body = (await res.json()) as { error: string };
    if (body.error === "authorization_pending") return { kind: "approval", at: "grant" };
    return { kind: "refused", error: body.error, rule: lastDeniedRule(broker) };
  };
  let subject = user;
  const agents = [...via, query.agent];
  for (let i = 0; i + 1 < agents.length; i++) {
    const form = delegationForm(subject, agents[i + 1] as string, scope, i === 0 ? enter : {});
    const res = await exchange(broker, form, agents[i]);
    if (res.status !== 200) return refused(res);
    subject = ((await res.json()) as { access_token: string }).access_token;
  }
  const form = accessForm(subject, query.api, scope, via.length === 0 ? enter : {});
  const res = await exchange(broker, form, query.agent);
  if (res.status !== 200) return refused(res);
  await res.body?.cancel();
  return taskApproval ? { kind: "approval", at: "task" } : { kind: "issued" };
}

function expected(e: Explanation): Outcome {
  const v = e.verdict;
  if (v.kind === "refused") return { kind: "refused", error: v.error, rule: v.rule };
  return v.kind === "approval" ? { kind: "approval", at: v.at } : { kind: "issued" };
}

describe("explainGrant agrees with the real broker (POST /token)", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({
      editPolicy: (data) => {
        data.tasks = {
          trip: { ceiling: ["flights.search", "flights.book", "docs.read"], approval: "subject" },
          reading: { ceiling: ["docs.read", "calendar.read"] },
        };
      },
    });
  });
  afterAll(() => broker.close());

  const cases: [string, ExplainQuery][] = [
    ["issued", { agent: "orchestrator", api: "calendar", scopes: ["calendar.read"] }],
    ["approval per grant", { agent: "orchestrator", api: "calendar", scopes: ["calendar.write"] }],
    [
      "scope not the agent's",
      { agent: "flight-booker", api: "calendar", scopes: ["calendar.read"] },
    ],
    ["scope of another API", { agent: "orchestrator", api: "docs", scopes: ["calendar.read"] }],
    ["disabled agent", { agent: "retired", api: "docs", scopes: ["docs.read"] }],
    [
      "delegated, issued",
      { agent: "flight-booker", api: "flights", via: ["orchestrator"], scopes: ["flights.search"] },
    ],
    [
      "delegated elevated, per grant",
      { agent: "flight-booker", api: "flights", via: ["orchestrator"], scopes: ["flights.book"] },
    ],
    [
      "two delegations",
      {
        agent: "researcher",
        api: "docs",
        via: ["orchestrator", "flight-booker"],
        scopes: ["docs.read"],
      },
    ],
    [
      "no edge",
      { agent: "orchestrator", api: "docs", via: ["flight-booker"], scopes: ["docs.read"] },
    ],
    [
      "sub-agent lacks the scope",
      { agent: "researcher", api: "docs", via: ["orchestrator"], scopes: ["docs.write"] },
    ],
    [
      "cycle",
      {
        agent: "orchestrator",
        api: "docs",
        via: ["orchestrator", "researcher"],
        scopes: ["docs.read"],
      },
    ],
    [
      "task approval covers a delegated elevated grant",
      {
        agent: "flight-booker",
        api: "flights",
        via: ["orchestrator"],
        task: "trip",
        scopes: ["flights.book"],
      },
    ],
    [
      "outside the ceiling",
      { agent: "orchestrator", api: "docs", task: "trip", scopes: ["docs.write"] },
    ],
    [
      "task without approval",
      { agent: "orchestrator", api: "docs", task: "reading", scopes: ["docs.read"] },
    ],
    [
      "opener lacks the ceiling",
      { agent: "flight-booker", api: "docs", task: "reading", scopes: ["docs.read"] },
    ],
  ];
  it.each(cases)("%s", async (_name, query) => {
    const explained = expected(explainGrant(broker.policy, query));
    const real = await askBroker(broker, query);
    // Task refusals at POST /tasks are not audited as exchanges: compare their code only.
    if (real.kind === "refused" && real.rule === undefined && explained.kind === "refused") {
      expect(real.error).toBe(explained.error);
    } else {
      expect(real).toEqual(explained);
    }
  });
});
