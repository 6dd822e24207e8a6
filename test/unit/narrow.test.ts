/**
 * The narrowing steps, called directly (design §4 rules 1, 2, 4): `narrowScopes`,
 * `narrowExpiry` and `extendChain` on a policy compiled in memory and a fixed clock. Each
 * refusal asserts its wire code, status and rule.
 */

import { describe, expect, it } from "vitest";
import { extendChain, narrowExpiry, narrowScopes } from "../../src/exchange/steps/narrow.js";
import {
  agentOf,
  delegatedSubject,
  NOW,
  plannerPolicy,
  refusalOf,
  subjectOf,
} from "./planner-fixtures.js";

const policy = plannerPolicy();
const api = (id: string) => {
  const found = policy.apis.get(id);
  if (!found) throw new Error(`no API ${id}`);
  return found;
};
const orchestrator = agentOf(policy, "orchestrator");
const booker = agentOf(policy, "flight-booker");
const researcher = agentOf(policy, "researcher");
const user = subjectOf();

describe("narrowScopes (rule 1: issued ⊆ requested ∩ API ∩ agent ∩ subject ∩ ceiling)", () => {
  it("rule 1: scopes inside every bound are issued exactly as requested, in order", () => {
    expect(
      narrowScopes(policy, ["docs.write", "docs.read"], {
        agent: orchestrator,
        subject: subjectOf({ scopes: new Set(["docs.read", "docs.write", "calendar.read"]) }),
        api: api("docs"),
        ceiling: ["docs.read", "docs.write"],
        delegators: [orchestrator],
      }),
    ).toEqual(["docs.write", "docs.read"]);
  });

  it("rule 1: the result is a copy; the request is not kept or changed", () => {
    const requested = ["calendar.read"];
    const issued = narrowScopes(policy, requested, {
      agent: orchestrator,
      subject: user,
      api: api("calendar"),
    });
    expect(issued).toEqual(["calendar.read"]);
    expect(issued).not.toBe(requested);
  });

  it("rule 1: no scope requested gives the API's default_scopes, never the agent's maximum", () => {
    expect(
      narrowScopes(policy, undefined, { agent: orchestrator, subject: user, api: api("calendar") }),
    ).toEqual(["calendar.read"]);
  });

  it("rule 1: the default scopes are bounded like requested ones (the subject token's scope)", () => {
    expect(
      refusalOf(() =>
        narrowScopes(policy, undefined, {
          agent: orchestrator,
          subject: subjectOf({ scopes: new Set(["docs.read"]) }),
          api: api("calendar"),
        }),
      ),
    ).toEqual({ code: "invalid_scope", status: 400, rule: "narrow.scope.subject" });
  });

  it("an unbound subject (scopes undefined) bounds nothing; the other bounds still do", () => {
    expect(
      narrowScopes(policy, ["flights.book"], {
        agent: orchestrator,
        subject: user,
        api: api("flights"),
      }),
    ).toEqual(["flights.book"]);
  });

  const refusals: [
    string,
    readonly string[] | undefined,
    Parameters<typeof narrowScopes>[2],
    string,
  ][] = [
    [
      "no scope, and an API without default_scopes",
      undefined,
      { agent: orchestrator, subject: user, api: api("flights") },
      "narrow.scope.none",
    ],
    [
      "an empty scope list",
      [],
      { agent: orchestrator, subject: user, api: api("calendar") },
      "narrow.scope.none",
    ],
    [
      "no scope for a delegation (no API, so no default)",
      undefined,
      { agent: orchestrator, subject: user, subAgent: booker },
      "narrow.scope.none",
    ],
    [
      "a scope no API defines",
      ["calendar.read", "calendar.admin"],
      { agent: orchestrator, subject: user, api: api("calendar") },
      "narrow.scope.unknown",
    ],
    [
      "a wildcard is not a scope",
      ["*"],
      { agent: orchestrator, subject: user, api: api("calendar") },
      "narrow.scope.unknown",
    ],
    [
      "a scope of another API than the target",
      ["calendar.read", "docs.read"],
      { agent: orchestrator, subject: user, api: api("calendar") },
      "narrow.scope.api",
    ],
    [
      "a scope outside the agent's scopes",
      ["docs.write"],
      { agent: researcher, subject: user, api: api("docs") },
      "narrow.scope.agent",
    ],
    [
      "a scope the sub-agent could never use",
      ["calendar.read"],
      { agent: orchestrator, subject: user, subAgent: booker },
      "narrow.scope.delegate",
    ],
    [
      "a scope beyond the subject token's scope",
      ["docs.read", "docs.write"],
      {
        agent: orchestrator,
        subject: subjectOf({ scopes: new Set(["docs.read"]) }),
        api: api("docs"),
      },
      "narrow.scope.subject",
    ],
    [
      "a scope beyond a delegation token's scope",
      ["flights.book"],
      {
        agent: booker,
        subject: delegatedSubject(["orchestrator"], ["flights.search"]),
        api: api("flights"),
      },
      "narrow.scope.subject",
    ],
    [
      "a scope outside the task ceiling",
      ["flights.search", "flights.book"],
      { agent: orchestrator, subject: user, api: api("flights"), ceiling: ["flights.search"] },
      "narrow.scope.task",
    ],
    [
      "an empty ceiling allows nothing",
      ["flights.search"],
      { agent: orchestrator, subject: user, api: api("flights"), ceiling: [] },
      "narrow.scope.task",
    ],
    [
      "a scope a delegator no longer holds (issue 14)",
      ["flights.book"],
      { agent: booker, subject: user, api: api("flights"), delegators: [orchestrator, researcher] },
      "narrow.scope.delegator",
    ],
  ];

  it.each(refusals)("rule 1 refuses %s: invalid_scope, 400", (_, requested, bounds, rule) => {
    expect(refusalOf(() => narrowScopes(policy, requested, bounds))).toEqual({
      code: "invalid_scope",
      status: 400,
      rule,
    });
  });

  it("rule 1: one misfit refuses the whole request; the fitting scopes are not issued alone", () => {
    const bounds = { agent: researcher, subject: user, api: api("docs") };
    expect(narrowScopes(policy, ["docs.read"], bounds)).toEqual(["docs.read"]);
    expect(refusalOf(() => narrowScopes(policy, ["docs.read", "docs.write"], bounds)).rule).toBe(
      "narrow.scope.agent",
    );
  });

  it("the checks run in the order of the bounds: the first broken bound names the refusal", () => {
    // docs.write: outside researcher's scopes, the subject's, and the ceiling: agent comes first.
    expect(
      refusalOf(() =>
        narrowScopes(policy, ["docs.write"], {
          agent: researcher,
          subject: subjectOf({ scopes: new Set(["docs.read"]) }),
          api: api("docs"),
          ceiling: ["docs.read"],
        }),
      ).rule,
    ).toBe("narrow.scope.agent");
  });
});

describe("narrowExpiry (rule 2: exp = min(now + ttl or default_ttl, API max_ttl, broker max_ttl, subject exp, deadline))", () => {
  const cases: [
    string,
    number | undefined,
    string | undefined,
    number,
    number | undefined,
    number,
  ][] = [
    ["no ttl: default_ttl (5m)", undefined, "docs", NOW + 3600, undefined, NOW + 300],
    [
      "no ttl, no API (a delegation): default_ttl",
      undefined,
      undefined,
      NOW + 3600,
      undefined,
      NOW + 300,
    ],
    ["a requested ttl below every cap", 120, "docs", NOW + 3600, undefined, NOW + 120],
    ["the API's max_ttl (calendar 10m)", 3600, "calendar", NOW + 7200, undefined, NOW + 600],
    ["the API's max_ttl (docs 30m)", 7200, "docs", NOW + 7200, undefined, NOW + 1800],
    [
      "the broker's max_ttl (1h) for an API without one",
      7200,
      "flights",
      NOW + 86_400,
      undefined,
      NOW + 3600,
    ],
    [
      "the broker's max_ttl (1h) for a delegation",
      7200,
      undefined,
      NOW + 86_400,
      undefined,
      NOW + 3600,
    ],
    ["the subject token's exp", 600, "flights", NOW + 42, undefined, NOW + 42],
    ["the subject token's exp, one second left", undefined, "flights", NOW + 1, undefined, NOW + 1],
    ["the task deadline", 3600, "flights", NOW + 3600, NOW + 77, NOW + 77],
    [
      "the task deadline below the API's max_ttl",
      undefined,
      "calendar",
      NOW + 3600,
      NOW + 200,
      NOW + 200,
    ],
    ["the smallest of all: the requested ttl", 30, "calendar", NOW + 60, NOW + 90, NOW + 30],
  ];

  it.each(cases)("rule 2: %s", (_, ttl, apiId, subjectExp, deadline, expected) => {
    expect(
      narrowExpiry(
        policy,
        NOW,
        ttl,
        subjectOf({ exp: subjectExp }),
        apiId === undefined ? undefined : api(apiId),
        deadline,
      ),
    ).toBe(expected);
  });

  it.each([
    ["a subject token that expires now", NOW, undefined],
    ["a subject token expired a minute ago", NOW - 60, undefined],
    ["a task deadline that is now", NOW + 3600, NOW],
    ["a task deadline already passed", NOW + 3600, NOW - 1],
  ])("rule 2 refuses %s: invalid_request, 400, subject.expired", (_, subjectExp, deadline) => {
    expect(
      refusalOf(() =>
        narrowExpiry(policy, NOW, undefined, subjectOf({ exp: subjectExp }), api("docs"), deadline),
      ),
    ).toEqual({ code: "invalid_request", status: 400, rule: "subject.expired" });
  });

  it("rule 2: the policy's own figures decide (a broker max_ttl of 2m caps every API)", () => {
    // An API's max_ttl may not exceed the broker's (a policy error), so none is left here.
    const tight = plannerPolicy((d) => {
      d.broker.max_ttl = "2m";
      d.broker.default_ttl = "1m";
      delete d.apis.calendar.max_ttl;
      delete d.apis.docs.max_ttl;
    });
    const docs = tight.apis.get("docs");
    expect(narrowExpiry(tight, NOW, 3600, subjectOf(), docs)).toBe(NOW + 120);
    expect(narrowExpiry(tight, NOW, undefined, subjectOf(), docs)).toBe(NOW + 60);
  });
});

describe("extendChain (rule 4: the chain is kept, never forged; no cycles; at most max_depth)", () => {
  it("rule 4: the user's own token: the chain is the acting agent alone", () => {
    expect(extendChain(policy, "orchestrator", [])).toEqual(["orchestrator"]);
  });

  it("rule 4: the acting agent wraps the subject's chain, current first", () => {
    expect(extendChain(policy, "researcher", ["flight-booker", "orchestrator"])).toEqual([
      "researcher",
      "flight-booker",
      "orchestrator",
    ]);
  });

  it("rule 4: the prior chain is left as it was", () => {
    const prior = Object.freeze(["orchestrator"]);
    expect(extendChain(policy, "flight-booker", prior)).toEqual(["flight-booker", "orchestrator"]);
    expect(prior).toEqual(["orchestrator"]);
  });

  it.each([
    ["the agent is the current actor", "orchestrator", ["orchestrator"]],
    ["the agent acted earlier in the chain", "orchestrator", ["flight-booker", "orchestrator"]],
    ["the agent is in the middle of the chain", "flight-booker", ["researcher", "flight-booker"]],
  ])("rule 4 refuses a cycle (%s): invalid_request, 400, chain.cycle", (_, agent, prior) => {
    expect(refusalOf(() => extendChain(policy, agent, prior))).toEqual({
      code: "invalid_request",
      status: 400,
      rule: "chain.cycle",
    });
  });

  it("rule 4: max_depth 3 allows a third agent and refuses a fourth (chain.depth)", () => {
    expect(extendChain(policy, "c", ["b", "a"])).toEqual(["c", "b", "a"]);
    expect(refusalOf(() => extendChain(policy, "d", ["c", "b", "a"]))).toEqual({
      code: "invalid_request",
      status: 400,
      rule: "chain.depth",
    });
  });

  it("rule 4: max_depth 1 allows only the user's own token", () => {
    const flat = plannerPolicy((d) => {
      d.broker.max_depth = 1;
    });
    expect(extendChain(flat, "orchestrator", [])).toEqual(["orchestrator"]);
    expect(refusalOf(() => extendChain(flat, "flight-booker", ["orchestrator"])).rule).toBe(
      "chain.depth",
    );
  });

  it("rule 4: a cycle is named before the depth when both are broken", () => {
    expect(refusalOf(() => extendChain(policy, "a", ["c", "b", "a"])).rule).toBe("chain.cycle");
  });
});
