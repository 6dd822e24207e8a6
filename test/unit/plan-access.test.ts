/**
 * The grant planners, called directly (design §4 rules 1–5): `planAccess` (an access token
 * for an API) and `planDelegation` (a delegation token for a sub-agent) decide the whole grant
 * from the policy, the verified subject, the parsed request, the task and the clock, before
 * anything is signed. Each case states the exact grant, or the refusal's code, status and rule.
 */

import { describe, expect, it } from "vitest";
import { planAccess, planDelegation } from "../../src/exchange/operations/exchange.js";
import type { Subject } from "../../src/exchange/steps/verify-subject.js";
import type { TokenExchangeRequest } from "../../src/exchange/types.js";
import type { Policy } from "../../src/policy/types.js";
import type { TaskRecord } from "../../src/tasks/task-store.js";
import {
  agentOf,
  delegatedSubject,
  delegationRequest,
  NOW,
  plannerPolicy,
  refusalOf,
  requestOf,
  subjectOf,
  taskOf,
} from "./planner-fixtures.js";

const policy = plannerPolicy();
const user = subjectOf();

function access(
  agentId: string,
  request: Partial<TokenExchangeRequest>,
  subject: Subject = user,
  task?: TaskRecord,
  on: Policy = policy,
  delegators: readonly string[] = [],
) {
  return planAccess(
    on,
    requestOf(request),
    agentOf(on, agentId),
    subject,
    task,
    NOW,
    delegators.map((id) => agentOf(on, id)),
  );
}

function delegation(
  agentId: string,
  to: string,
  scopes: readonly string[] | undefined,
  subject: Subject = user,
  over: Partial<TokenExchangeRequest> = {},
  task?: TaskRecord,
  on: Policy = policy,
) {
  return planDelegation(
    on,
    delegationRequest(to, scopes, over),
    agentOf(on, agentId),
    subject,
    task,
    NOW,
  );
}

describe("planAccess: the grant in full", () => {
  it("rules 1–4: the user's own token, one API: scope as asked, exp by default_ttl, aud from the registry, act = the agent", () => {
    expect(access("orchestrator", { audiences: ["docs"], scopes: ["docs.read"] })).toEqual({
      kind: "access",
      agent: agentOf(policy, "orchestrator"),
      chain: ["orchestrator"],
      scopes: ["docs.read"],
      exp: NOW + 300,
      audience: "docs",
      aud: "https://docs.example.com/api",
    });
  });

  it("rule 3: the API named by id, by its resource URI as audience, or by resource: the same grant", () => {
    const byId = access("researcher", { audiences: ["docs"], scopes: ["docs.read"] });
    const byAudienceUri = access("researcher", {
      audiences: ["https://docs.example.com/api"],
      scopes: ["docs.read"],
    });
    const byResource = access("researcher", {
      resources: ["https://docs.example.com/api"],
      scopes: ["docs.read"],
    });
    const bothSame = access("researcher", {
      resources: ["https://docs.example.com/api"],
      audiences: ["docs"],
      scopes: ["docs.read"],
    });
    expect(byId.aud).toBe("https://docs.example.com/api");
    expect(byAudienceUri).toEqual(byId);
    expect(byResource).toEqual(byId);
    expect(bothSame).toEqual(byId);
  });

  it("rule 3: with no target, scopes of one API name it", () => {
    const grant = access("orchestrator", { scopes: ["flights.search"] });
    expect([grant.audience, grant.aud]).toEqual(["flights", "https://flights.example.com"]);
  });

  it("rule 1: no scope asked gives the API's default_scopes", () => {
    expect(access("orchestrator", { audiences: ["calendar"] }).scopes).toEqual(["calendar.read"]);
  });

  it("rule 2: ttl asked, capped by the API's max_ttl (calendar 10m)", () => {
    expect(access("orchestrator", { audiences: ["calendar"], ttlSeconds: 60 }).exp).toBe(NOW + 60);
    expect(access("orchestrator", { audiences: ["calendar"], ttlSeconds: 3600 }).exp).toBe(
      NOW + 600,
    );
  });

  it("rule 2: never outlives the subject token", () => {
    const grant = access(
      "orchestrator",
      { audiences: ["flights"], scopes: ["flights.search"] },
      subjectOf({ exp: NOW + 10 }),
    );
    expect(grant.exp).toBe(NOW + 10);
  });

  it("rule 4: a delegated subject: the agent wraps the chain it carries", () => {
    const subject = delegatedSubject(["flight-booker", "orchestrator"], ["docs.read"]);
    const grant = access("researcher", { audiences: ["docs"], scopes: ["docs.read"] }, subject);
    expect(grant.chain).toEqual(["researcher", "flight-booker", "orchestrator"]);
    expect(grant.scopes).toEqual(["docs.read"]);
  });

  it("rule 4 (RFC 8693 §1.1): impersonation only for an impersonate agent, on the user's own token, with no actor token", () => {
    expect(access("impersonator", { audiences: ["docs"], scopes: ["docs.read"] }).chain).toEqual(
      [],
    );
    expect(
      access("impersonator", {
        audiences: ["docs"],
        scopes: ["docs.read"],
        actorToken: "an-actor-token",
      }).chain,
    ).toEqual(["impersonator"]);
    // A delegated subject is never turned into a token without act.
    expect(
      access(
        "impersonator",
        { audiences: ["docs"], scopes: ["docs.read"] },
        delegatedSubject(["orchestrator"], ["docs.read"]),
      ).chain,
    ).toEqual(["impersonator", "orchestrator"]);
    expect(access("researcher", { audiences: ["docs"], scopes: ["docs.read"] }).chain).toEqual([
      "researcher",
    ]);
  });

  it("inside a task: txn, the ceiling and the deadline bound the grant", () => {
    const task = taskOf({ ceiling: ["flights.search"], deadline: NOW + 90 });
    expect(
      access("orchestrator", { audiences: ["flights"], scopes: ["flights.search"] }, user, task),
    ).toEqual({
      kind: "access",
      agent: agentOf(policy, "orchestrator"),
      chain: ["orchestrator"],
      scopes: ["flights.search"],
      exp: NOW + 90,
      audience: "flights",
      aud: "https://flights.example.com",
      txn: "tsk_unit",
    });
  });

  it("the delegators' current scopes still bound the grant (issue 14)", () => {
    const subject = delegatedSubject(["orchestrator"], ["flights.search", "flights.book"]);
    const request = { audiences: ["flights"], scopes: ["flights.search"] };
    expect(
      access("flight-booker", request, subject, undefined, policy, ["orchestrator"]).scopes,
    ).toEqual(["flights.search"]);
    expect(
      refusalOf(() =>
        access("flight-booker", request, subject, undefined, policy, [
          "researcher",
          "impersonator",
        ]),
      ),
    ).toEqual({ code: "invalid_scope", status: 400, rule: "narrow.scope.delegator" });
  });
});

describe("planAccess: refusals", () => {
  const cases: [
    string,
    string,
    Partial<TokenExchangeRequest>,
    Subject | undefined,
    TaskRecord | undefined,
    { code: string; status: number; rule: string },
  ][] = [
    [
      "rule 1: a scope outside the agent's",
      "researcher",
      { audiences: ["docs"], scopes: ["docs.write"] },
      undefined,
      undefined,
      { code: "invalid_scope", status: 400, rule: "narrow.scope.agent" },
    ],
    [
      "rule 1: a scope of another API",
      "orchestrator",
      { audiences: ["docs"], scopes: ["calendar.read"] },
      undefined,
      undefined,
      { code: "invalid_scope", status: 400, rule: "narrow.scope.api" },
    ],
    [
      "rule 1: a scope beyond the subject token",
      "researcher",
      { audiences: ["docs"], scopes: ["docs.read"] },
      subjectOf({ scopes: new Set(["flights.search"]) }),
      undefined,
      { code: "invalid_scope", status: 400, rule: "narrow.scope.subject" },
    ],
    [
      "rule 1: a scope outside the task ceiling",
      "orchestrator",
      { audiences: ["docs"], scopes: ["docs.write"] },
      undefined,
      taskOf(),
      { code: "invalid_scope", status: 400, rule: "narrow.scope.task" },
    ],
    [
      "rule 1: no scope, and an API without defaults",
      "orchestrator",
      { audiences: ["flights"] },
      undefined,
      undefined,
      { code: "invalid_scope", status: 400, rule: "narrow.scope.none" },
    ],
    [
      "rule 1: an unknown scope",
      "orchestrator",
      { audiences: ["docs"], scopes: ["docs.delete"] },
      undefined,
      undefined,
      { code: "invalid_scope", status: 400, rule: "narrow.scope.unknown" },
    ],
    [
      "rule 2: an expired subject token",
      "orchestrator",
      { audiences: ["docs"], scopes: ["docs.read"] },
      subjectOf({ exp: NOW }),
      undefined,
      { code: "invalid_request", status: 400, rule: "subject.expired" },
    ],
    [
      "rule 2: a task past its deadline",
      "orchestrator",
      { audiences: ["docs"], scopes: ["docs.read"] },
      undefined,
      taskOf({ deadline: NOW }),
      { code: "invalid_request", status: 400, rule: "subject.expired" },
    ],
    [
      "rule 3: two APIs",
      "orchestrator",
      { audiences: ["docs", "calendar"], scopes: ["docs.read"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.many" },
    ],
    [
      "rule 3: an audience and a resource naming two APIs",
      "orchestrator",
      { audiences: ["docs"], resources: ["https://calendar.example.com"], scopes: ["docs.read"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.many" },
    ],
    [
      "rule 3: an unknown API",
      "orchestrator",
      { audiences: ["payroll"], scopes: ["docs.read"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.unknown" },
    ],
    [
      "rule 3: a resource spelt otherwise than the registry (no normalising)",
      "orchestrator",
      { resources: ["https://docs.example.com/api/"], scopes: ["docs.read"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.unknown" },
    ],
    [
      "rule 3: a resource that is not an absolute URI",
      "orchestrator",
      { resources: ["docs.example.com/api"], scopes: ["docs.read"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.resource_form" },
    ],
    [
      "rule 3: a resource with a fragment",
      "orchestrator",
      { resources: ["https://docs.example.com/api#x"], scopes: ["docs.read"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.resource_form" },
    ],
    [
      "rule 3: a sub-agent's id is no API",
      "orchestrator",
      { audiences: ["flight-booker"], scopes: ["flights.search"] },
      undefined,
      undefined,
      { code: "invalid_target", status: 400, rule: "target.unknown" },
    ],
    [
      "rule 3: no target, scopes of two APIs",
      "orchestrator",
      { scopes: ["docs.read", "flights.search"] },
      undefined,
      undefined,
      { code: "invalid_request", status: 400, rule: "request.target_missing" },
    ],
    [
      "rule 3: no target and no scope",
      "orchestrator",
      {},
      undefined,
      undefined,
      { code: "invalid_request", status: 400, rule: "request.target_missing" },
    ],
    [
      "rule 4: the agent already in the chain",
      "orchestrator",
      { audiences: ["docs"], scopes: ["docs.read"] },
      delegatedSubject(["researcher", "orchestrator"], ["docs.read"]),
      undefined,
      { code: "invalid_request", status: 400, rule: "chain.cycle" },
    ],
    [
      "rule 4: a fourth agent past max_depth 3",
      "orchestrator",
      { audiences: ["docs"], scopes: ["docs.read"] },
      delegatedSubject(["researcher", "flight-booker", "impersonator"], ["docs.read"]),
      undefined,
      { code: "invalid_request", status: 400, rule: "chain.depth" },
    ],
  ];

  it.each(cases)("%s (%s)", (_, agent, request, subject, task, expected) => {
    expect(refusalOf(() => access(agent, request, subject ?? user, task))).toEqual(expected);
  });
});

describe("planDelegation: the grant in full", () => {
  it("rules 1, 2, 4, 5: along an edge: scopes as asked, exp by default_ttl, chain = the delegator, the sub-agent as audience, no aud", () => {
    expect(delegation("orchestrator", "flight-booker", ["flights.book", "docs.read"])).toEqual({
      kind: "delegation",
      agent: agentOf(policy, "orchestrator"),
      chain: ["orchestrator"],
      scopes: ["flights.book", "docs.read"],
      exp: NOW + 300,
      audience: "flight-booker",
    });
  });

  it("rule 2: a delegation has no API: ttl up to the broker's max_ttl, and never past the parent", () => {
    expect(
      delegation("orchestrator", "researcher", ["docs.read"], user, { ttlSeconds: 7200 }).exp,
    ).toBe(NOW + 3600);
    const parent = delegatedSubject(["orchestrator"], ["docs.read"], { exp: NOW + 45 });
    expect(
      delegation("flight-booker", "researcher", ["docs.read"], parent, { ttlSeconds: 600 }).exp,
    ).toBe(NOW + 45);
  });

  it("rule 4: a delegated subject delegates on: the chain grows by the delegator", () => {
    const parent = delegatedSubject(["orchestrator"], ["docs.read", "flights.search"]);
    const grant = delegation("flight-booker", "researcher", ["docs.read"], parent);
    expect(grant.chain).toEqual(["flight-booker", "orchestrator"]);
    expect(grant.audience).toBe("researcher");
  });

  it("rule 4: the last link max_depth allows: the sub-agent will be the third agent", () => {
    const parent = delegatedSubject(["orchestrator"], ["docs.read"]);
    expect(delegation("flight-booker", "researcher", ["docs.read"], parent).chain).toEqual([
      "flight-booker",
      "orchestrator",
    ]);
  });

  it("inside a task: txn, the ceiling and the deadline", () => {
    const task = taskOf({ ceiling: ["flights.search", "docs.read"], deadline: NOW + 120 });
    const grant = delegation("orchestrator", "flight-booker", ["flights.search"], user, {}, task);
    expect([grant.txn, grant.exp, grant.scopes]).toEqual([
      "tsk_unit",
      NOW + 120,
      ["flights.search"],
    ]);
  });
});

describe("planDelegation: refusals", () => {
  const depth2 = plannerPolicy((d) => {
    d.broker.max_depth = 2;
  });
  const cases: [string, () => unknown, { code: string; status: number; rule: string }][] = [
    [
      "rule 5: to an agent outside delegate_to",
      () => delegation("flight-booker", "orchestrator", ["flights.search"]),
      { code: "invalid_target", status: 400, rule: "delegate.edge" },
    ],
    [
      "rule 5: to an agent the policy does not define",
      () => delegation("orchestrator", "stranger", ["docs.read"]),
      { code: "invalid_target", status: 400, rule: "delegate.edge" },
    ],
    [
      "rule 5: to oneself",
      () => delegation("orchestrator", "orchestrator", ["docs.read"]),
      { code: "invalid_target", status: 400, rule: "delegate.edge" },
    ],
    [
      "rule 5: to an API's id",
      () => delegation("orchestrator", "docs", ["docs.read"]),
      { code: "invalid_target", status: 400, rule: "delegate.edge" },
    ],
    [
      "rule 3: a resource beside the sub-agent",
      () =>
        delegation("orchestrator", "researcher", ["docs.read"], user, {
          resources: ["https://docs.example.com/api"],
        }),
      { code: "invalid_target", status: 400, rule: "target.delegation_resource" },
    ],
    [
      "rule 3: two sub-agents",
      () =>
        delegation("orchestrator", "researcher", ["docs.read"], user, {
          audiences: ["researcher", "flight-booker"],
        }),
      { code: "invalid_target", status: 400, rule: "target.many" },
    ],
    [
      "no sub-agent named",
      () => delegation("orchestrator", "researcher", ["docs.read"], user, { audiences: [] }),
      { code: "invalid_request", status: 400, rule: "request.audience_missing" },
    ],
    [
      "rule 1: a scope the sub-agent lacks",
      () => delegation("orchestrator", "researcher", ["docs.write"]),
      { code: "invalid_scope", status: 400, rule: "narrow.scope.delegate" },
    ],
    [
      "rule 1: a scope the delegator lacks",
      () => delegation("flight-booker", "researcher", ["flights.search", "docs.write"]),
      { code: "invalid_scope", status: 400, rule: "narrow.scope.agent" },
    ],
    [
      "rule 1: a scope beyond the parent token",
      () =>
        delegation(
          "flight-booker",
          "researcher",
          ["flights.search"],
          delegatedSubject(["orchestrator"], ["docs.read"]),
        ),
      { code: "invalid_scope", status: 400, rule: "narrow.scope.subject" },
    ],
    [
      "rule 1: no scope (a delegation has no default)",
      () => delegation("orchestrator", "researcher", undefined),
      { code: "invalid_scope", status: 400, rule: "narrow.scope.none" },
    ],
    [
      "rule 1: outside the task ceiling",
      () => delegation("orchestrator", "flight-booker", ["flights.book"], user, {}, taskOf()),
      { code: "invalid_scope", status: 400, rule: "narrow.scope.task" },
    ],
    [
      "rule 4: the sub-agent already in the chain (it could never redeem it)",
      () =>
        delegation(
          "researcher",
          "orchestrator",
          ["docs.read"],
          delegatedSubject(["flight-booker", "orchestrator"], ["docs.read"]),
        ),
      { code: "invalid_request", status: 400, rule: "chain.cycle" },
    ],
    [
      "rule 4: the delegator already in the chain",
      () =>
        delegation(
          "orchestrator",
          "flight-booker",
          ["docs.read"],
          delegatedSubject(["researcher", "orchestrator"], ["docs.read"]),
        ),
      { code: "invalid_request", status: 400, rule: "chain.cycle" },
    ],
    [
      "rule 4: the sub-agent would be past max_depth 2",
      () =>
        delegation(
          "flight-booker",
          "researcher",
          ["docs.read"],
          delegatedSubject(["orchestrator"], ["docs.read"]),
          {},
          undefined,
          depth2,
        ),
      { code: "invalid_request", status: 400, rule: "chain.depth" },
    ],
    [
      "rule 2: an expired parent token",
      () => delegation("orchestrator", "researcher", ["docs.read"], subjectOf({ exp: NOW - 1 })),
      { code: "invalid_request", status: 400, rule: "subject.expired" },
    ],
  ];

  it.each(cases)("%s", (_, plan, expected) => {
    expect(refusalOf(plan)).toEqual(expected);
  });

  it("rule 4: with max_depth 2 the user's token may still be delegated once", () => {
    expect(
      delegation("orchestrator", "flight-booker", ["docs.read"], user, {}, undefined, depth2).chain,
    ).toEqual(["orchestrator"]);
  });
});

describe("an unknown API's refusal lists only the APIs the agent may ask for (its facts)", () => {
  const factsOf = (agentId: string) => {
    try {
      access(agentId, { audiences: ["payroll"], scopes: ["docs.read"] });
    } catch (err) {
      return (err as { refusal: { rule: string; facts?: unknown } }).refusal;
    }
    throw new Error("an unknown API must be refused");
  };

  it("researcher holds docs and flights scopes: those two, never calendar", () => {
    expect(factsOf("researcher")).toEqual({
      rule: "target.unknown",
      facts: { apis: ["flights", "docs"] },
    });
  });

  it("orchestrator holds scopes of all three", () => {
    expect(factsOf("orchestrator")?.facts).toEqual({ apis: ["calendar", "flights", "docs"] });
  });
});
