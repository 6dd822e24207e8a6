/**
 * Rate limits in policy (issue 6, item 3): `broker.rate_limit.per_agent` / `per_subject` and an
 * agent's own `rate_limit`, written `REQUESTS/DURATION`, compiled to requests per window.
 */
import { describe, expect, it } from "vitest";
import { compilePolicy } from "../../src/policy/load.js";
import { validatePolicyFile } from "../../src/policy/validate.js";
import { agentsFile, apisFile, catchPolicyError } from "./fixtures.js";

const EXPECTED =
  "expected REQUESTS/DURATION, such as 600/1m: a whole number of requests per 30s, 5m or 1h";

function issuesOf(data: unknown): string[] {
  const result = validatePolicyFile("p.yaml", data);
  return result.ok ? [] : result.issues;
}

const brokerLimits = (rate_limit: unknown) => ({ broker: { rate_limit } });

function compileWith(broker: unknown, agentLimit?: unknown) {
  const agents = agentsFile();
  if (agentLimit !== undefined) Object.assign(agents.agents.planner, { rate_limit: agentLimit });
  return compilePolicy([
    { file: "broker.yaml", data: { broker } },
    { file: "apis.yaml", data: apisFile() },
    { file: "agents.yaml", data: agents },
  ]);
}

describe("rate limits: REQUESTS/DURATION", () => {
  it("accepts 10/30s, 600/1m and 5/1h, and compiles them to requests per window", () => {
    for (const text of ["10/30s", "600/1m", "5/1h"]) {
      expect(issuesOf(brokerLimits({ per_agent: text, per_subject: text })), text).toEqual([]);
    }
    const policy = compileWith({ rate_limit: { per_agent: "10/30s", per_subject: "600/1m" } });
    expect(policy.broker.rateLimit).toEqual({
      perAgent: { requests: 10, windowSeconds: 30 },
      perSubject: { requests: 600, windowSeconds: 60 },
    });
  });

  it("refuses 0/1m, 10, 10/, x/1m and 10/1x, saying what is expected", () => {
    for (const bad of ["0/1m", "10", "10/", "x/1m", "10/1x", "10/1d", "-1/1m", "10/0s", " 10/1m"]) {
      expect(issuesOf(brokerLimits({ per_agent: bad })), bad).toEqual([
        `p.yaml: broker.rate_limit.per_agent: ${EXPECTED}`,
      ]);
    }
  });

  it("refuses a bare YAML number with the same message, not a type error", () => {
    expect(issuesOf(brokerLimits({ per_subject: 600 }))).toEqual([
      `p.yaml: broker.rate_limit.per_subject: ${EXPECTED}`,
    ]);
  });

  it("checks an agent's own rate_limit the same way", () => {
    const agent = (rate_limit: unknown) => ({
      agents: { a1: { secret_sha256: "a".repeat(64), rate_limit } },
    });
    expect(issuesOf(agent("1200/1m"))).toEqual([]);
    expect(issuesOf(agent("1200 per minute"))).toEqual([
      `p.yaml: agents.a1.rate_limit: ${EXPECTED}`,
    ]);
  });

  it("refuses unknown keys under broker.rate_limit", () => {
    expect(issuesOf(brokerLimits({ per_user: "10/1m" }))).toEqual([
      "p.yaml: broker.rate_limit.per_user: unknown key; expected one of: per_agent, per_subject, client_auth_failures",
    ]);
  });

  it("is absent unless policy sets it: no limit by default", () => {
    const policy = compileWith({});
    expect(policy.broker.rateLimit).toBeUndefined();
    expect(policy.agents.get("planner")?.rateLimit).toBeUndefined();
    // An empty section sets no limit either.
    expect(compileWith({ rate_limit: {} }).broker.rateLimit).toEqual({});
  });

  it("compiles an agent's override beside the broker's default", () => {
    const policy = compileWith({ rate_limit: { per_agent: "600/1m" } }, "1200/1m");
    expect(policy.broker.rateLimit).toEqual({ perAgent: { requests: 600, windowSeconds: 60 } });
    expect(policy.agents.get("planner")?.rateLimit).toEqual({ requests: 1200, windowSeconds: 60 });
    expect(policy.agents.get("helper")?.rateLimit).toBeUndefined();
  });

  it("is a policy error at compile time, naming the file and path", () => {
    const err = catchPolicyError(() => compileWith({ rate_limit: { per_agent: "10/" } }));
    expect(err.issues).toEqual([`broker.yaml: broker.rate_limit.per_agent: ${EXPECTED}`]);
  });
});
