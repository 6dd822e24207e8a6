/**
 * The task planner, called directly (design §2; §4 rules 1, 2, 6): `planTask` decides a task's
 * ceiling, deadline, budget and approvers from the policy, the opener, its user and what was
 * asked, before anything is written. Policy: broker max_ttl 1h, max_task_ttl 2h,
 * max_task_tokens 40; template `book-trip` (30m, 12 tokens, approval: subject), `research`
 * (no caps), `over-reach` (a ceiling the researcher cannot hold).
 */

import { describe, expect, it } from "vitest";
import { planTask } from "../../src/exchange/operations/start-task.js";
import type { Subject } from "../../src/exchange/steps/verify-subject.js";
import type { Policy } from "../../src/policy/types.js";
import {
  agentOf,
  delegatedSubject,
  NOW,
  plannerPolicy,
  refusalOf,
  subjectOf,
} from "./planner-fixtures.js";

const policy = plannerPolicy();
const user = subjectOf({ exp: NOW + 86_400 });

function plan(
  agentId: string,
  request: { scopes?: readonly string[]; ttlSeconds?: number; maxTokens?: number },
  template?: string,
  subject: Subject = user,
  on: Policy = policy,
) {
  return planTask(
    on,
    {
      agent: agentOf(on, agentId),
      subject,
      template: template === undefined ? undefined : on.tasks.get(template),
      request,
    },
    NOW,
  );
}

describe("planTask: the ceiling (rule 1)", () => {
  it("rule 1: scopes asked inside the opener's and the user's: the ceiling as asked; no approver", () => {
    expect(plan("researcher", { scopes: ["docs.read", "flights.search"] })).toEqual({
      ceiling: ["docs.read", "flights.search"],
      deadline: NOW + 3600,
      maxTokens: 40,
      approvers: [],
      covers: [],
    });
  });

  it("rule 1: a template gives the ceiling", () => {
    expect(plan("researcher", {}, "research").ceiling).toEqual(["docs.read", "flights.search"]);
  });

  it("rule 1: a ceiling may span several APIs (it is not an access token)", () => {
    expect(plan("orchestrator", { scopes: ["calendar.read", "docs.write"] }).ceiling).toEqual([
      "calendar.read",
      "docs.write",
    ]);
  });

  it.each([
    [
      "a scope the opener lacks",
      "researcher",
      { scopes: ["docs.read", "docs.write"] },
      undefined,
      user,
      "narrow.scope.agent",
    ],
    [
      "a template whose ceiling the opener cannot hold",
      "researcher",
      {},
      "over-reach",
      user,
      "narrow.scope.agent",
    ],
    [
      "a scope beyond the user's token",
      "orchestrator",
      { scopes: ["docs.write"] },
      undefined,
      subjectOf({ exp: NOW + 3600, scopes: new Set(["docs.read"]) }),
      "narrow.scope.subject",
    ],
    [
      "a template beyond the user's token",
      "orchestrator",
      {},
      "research",
      subjectOf({ exp: NOW + 3600, scopes: new Set(["docs.read"]) }),
      "narrow.scope.subject",
    ],
    [
      "a scope no API defines",
      "orchestrator",
      { scopes: ["docs.read", "mail.send"] },
      undefined,
      user,
      "narrow.scope.unknown",
    ],
    ["an empty ceiling", "orchestrator", { scopes: [] }, undefined, user, "narrow.scope.none"],
    ["neither scopes nor a template", "orchestrator", {}, undefined, user, "narrow.scope.none"],
  ] as const)(
    "rule 1 refuses %s: invalid_scope, 400",
    (_, agent, request, template, subject, rule) => {
      expect(refusalOf(() => plan(agent, request, template, subject))).toEqual({
        code: "invalid_scope",
        status: 400,
        rule,
      });
    },
  );
});

describe("planTask: the deadline (rule 2)", () => {
  it.each([
    ["no ttl, no template: the broker's max_ttl (1h)", {}, undefined, NOW + 86_400, NOW + 3600],
    ["a ttl asked", { ttlSeconds: 900 }, undefined, NOW + 86_400, NOW + 900],
    [
      "a ttl past max_task_ttl (2h) is capped",
      { ttlSeconds: 5 * 3600 },
      undefined,
      NOW + 86_400,
      NOW + 7200,
    ],
    ["a template's max_ttl when no ttl is asked (30m)", {}, "book-trip", NOW + 86_400, NOW + 1800],
    [
      "a ttl past the template's max_ttl is capped by it",
      { ttlSeconds: 3600 },
      "book-trip",
      NOW + 86_400,
      NOW + 1800,
    ],
    [
      "a ttl under the template's max_ttl",
      { ttlSeconds: 600 },
      "book-trip",
      NOW + 86_400,
      NOW + 600,
    ],
    [
      "a template without max_ttl: the broker's max_ttl by default",
      {},
      "research",
      NOW + 86_400,
      NOW + 3600,
    ],
    ["the user's token expires first", { ttlSeconds: 3600 }, undefined, NOW + 500, NOW + 500],
    [
      "the user's token expires before the template's max_ttl",
      {},
      "book-trip",
      NOW + 1000,
      NOW + 1000,
    ],
  ] as const)("rule 2: %s", (_, request, template, subjectExp, deadline) => {
    const scopes = template === undefined ? { scopes: ["flights.search"] } : {};
    expect(
      plan("orchestrator", { ...scopes, ...request }, template, subjectOf({ exp: subjectExp }))
        .deadline,
    ).toBe(deadline);
  });

  it("rule 2: a template's max_ttl above max_task_ttl is capped by max_task_ttl", () => {
    const long = plannerPolicy((d) => {
      d.broker.max_task_ttl = "20m";
    });
    expect(plan("orchestrator", {}, "book-trip", user, long).deadline).toBe(NOW + 1200);
    expect(
      plan("orchestrator", { scopes: ["docs.read"], ttlSeconds: 3000 }, undefined, user, long)
        .deadline,
    ).toBe(NOW + 1200);
  });
});

describe("planTask: the budget", () => {
  it.each([
    ["none asked: the broker's max_task_tokens", {}, undefined, 40],
    ["asked under the cap", { maxTokens: 7 }, undefined, 7],
    ["asked over max_task_tokens: capped", { maxTokens: 500 }, undefined, 40],
    ["a template's max_tokens when none is asked", {}, "book-trip", 12],
    ["asked over the template's max_tokens: capped by it", { maxTokens: 30 }, "book-trip", 12],
    ["asked under the template's", { maxTokens: 3 }, "book-trip", 3],
    ["a template without max_tokens: the broker's", {}, "research", 40],
  ] as const)("%s", (_, request, template, maxTokens) => {
    const scopes = template === undefined ? { scopes: ["flights.search"] } : {};
    expect(plan("orchestrator", { ...scopes, ...request }, template).maxTokens).toBe(maxTokens);
  });

  it("a template's max_tokens above max_task_tokens is capped by the broker", () => {
    const small = plannerPolicy((d) => {
      d.broker.max_task_tokens = 5;
    });
    expect(plan("orchestrator", {}, "book-trip", user, small).maxTokens).toBe(5);
  });
});

describe("planTask: who approves the ceiling (rule 6)", () => {
  it.each([
    ["no elevated scope, a template without approval", "researcher", {}, "research", []],
    ["the template asks the subject", "orchestrator", {}, "book-trip", ["subject"]],
    [
      "an elevated scope in the ceiling (the subject)",
      "orchestrator",
      { scopes: ["calendar.write"] },
      undefined,
      ["subject"],
    ],
    [
      "an elevated scope for an approver group",
      "orchestrator",
      { scopes: ["docs.admin"] },
      undefined,
      ["admins"],
    ],
    [
      "both, sorted, once each",
      "orchestrator",
      { scopes: ["docs.admin", "flights.book", "calendar.write"] },
      undefined,
      ["admins", "subject"],
    ],
  ] as const)("%s", (_, agent, request, template, approvers) => {
    expect(plan(agent, request, template).approvers).toEqual(approvers);
  });

  it("the whole plan of a template with approval (book-trip)", () => {
    expect(plan("orchestrator", { ttlSeconds: 7200, maxTokens: 100 }, "book-trip")).toEqual({
      ceiling: ["flights.search", "flights.book", "calendar.read"],
      deadline: NOW + 1800,
      maxTokens: 12,
      approvers: ["subject"],
      covers: [
        { agent: "orchestrator", scopes: ["flights.book"], delegated: false },
        { agent: "flight-booker", scopes: ["flights.book"], delegated: true },
      ],
    });
  });
});

describe("planTask: whom the one approval covers (rule 6, policy/delegation-reach.ts)", () => {
  const opener = (id: string) => ({ agent: id, delegated: false });
  const delegate = (id: string) => ({ agent: id, delegated: true });

  it("no approval needed: covers no one (the task has no standing approval)", () => {
    expect(plan("orchestrator", { scopes: ["flights.search", "docs.read"] }).covers).toEqual([]);
  });

  it("the opener with every elevated scope of the ceiling, in its order; each delegate with those it could get", () => {
    const covers = plan("orchestrator", {
      scopes: ["docs.admin", "flights.search", "flights.book", "calendar.write"],
    }).covers;
    expect(covers).toEqual([
      { ...opener("orchestrator"), scopes: ["docs.admin", "flights.book", "calendar.write"] },
      // flight-booker holds flights.book, not docs.admin nor calendar.write; the researcher none.
      { ...delegate("flight-booker"), scopes: ["flights.book"] },
    ]);
  });

  it("an elevated scope no delegate holds: the opener alone", () => {
    expect(plan("orchestrator", { scopes: ["calendar.write"] }).covers).toEqual([
      { ...opener("orchestrator"), scopes: ["calendar.write"] },
    ]);
  });

  it("a template's approval over a ceiling with no elevated scope: the opener, with none", () => {
    const quiet = plannerPolicy((d) => {
      d.tasks.research.approval = "subject";
    });
    expect(plan("researcher", {}, "research", user, quiet).covers).toEqual([
      { ...opener("researcher"), scopes: [] },
    ]);
  });

  it("follows delegate_to within max_depth, through agents that all hold the scope, nearest first", () => {
    // researcher now holds flights.book: orchestrator → researcher directly, and through
    // flight-booker; a disabled or narrowing agent on the way carries nothing.
    const wide = plannerPolicy((d) => {
      d.agents.researcher.scopes.push("flights.book");
    });
    expect(plan("orchestrator", {}, "book-trip", user, wide).covers).toEqual([
      { ...opener("orchestrator"), scopes: ["flights.book"] },
      { ...delegate("flight-booker"), scopes: ["flights.book"] },
      { ...delegate("researcher"), scopes: ["flights.book"] },
    ]);
    const narrowed = plannerPolicy((d) => {
      d.agents.researcher.scopes.push("flights.book");
      d.agents.orchestrator.delegate_to = ["flight-booker"];
      d.agents["flight-booker"].scopes = ["flights.search", "docs.read"];
      d.agents["flight-booker"].delegate_to = ["researcher"];
    });
    // flight-booker lacks flights.book, so rule 1 narrows it away before the researcher.
    expect(plan("orchestrator", {}, "book-trip", user, narrowed).covers).toEqual([
      { ...opener("orchestrator"), scopes: ["flights.book"] },
    ]);
    const disabled = plannerPolicy((d) => {
      d.agents["flight-booker"].disabled = true;
    });
    expect(plan("orchestrator", {}, "book-trip", user, disabled).covers).toEqual([
      { ...opener("orchestrator"), scopes: ["flights.book"] },
    ]);
  });

  it("an opener that acts on a delegation: its chain counts against max_depth and cannot recur", () => {
    const on = (depth: number) =>
      plannerPolicy((d) => {
        d.broker.max_depth = depth;
        d.agents.researcher.scopes.push("flights.book");
        d.agents.researcher.delegate_to = ["orchestrator", "flight-booker"];
      });
    const delegated = delegatedSubject(["orchestrator"], ["flights.search", "flights.book"]);
    const covers = (depth: number) =>
      plan("flight-booker", { scopes: ["flights.book"] }, undefined, delegated, on(depth)).covers;
    // [flight-booker, orchestrator] has room for one more (max_depth 3): the researcher; it
    // delegates back to the orchestrator and flight-booker, already in the chain (rule 4).
    expect(covers(3)).toEqual([
      { ...opener("flight-booker"), scopes: ["flights.book"] },
      { ...delegate("researcher"), scopes: ["flights.book"] },
    ]);
    expect(covers(2)).toEqual([{ ...opener("flight-booker"), scopes: ["flights.book"] }]);
  });
});
