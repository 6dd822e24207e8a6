/**
 * `delegatesHolding` and `coveredAgents` (policy/delegation-reach.ts): the one definition of
 * who a delegation can reach with a scope, behind a task approval's covered set (design §4
 * rules 1, 4, 5, 6). Small YAML policies compiled in memory.
 */

import { describe, expect, it } from "vitest";
import { coveredAgents, delegatesHolding } from "../../src/policy/delegation-reach.js";
import { compilePolicy } from "../../src/policy/load.js";
import type { Policy } from "../../src/policy/types.js";

const HASH = "d".repeat(64);

/** calendar.write elevated; `agents` as id → {scopes, delegate_to, disabled}. */
function policyOf(
  agents: Record<string, { scopes: string[]; delegate_to?: string[]; disabled?: boolean }>,
  maxDepth = 3,
): Policy {
  return compilePolicy([
    {
      file: "p.yaml",
      data: {
        broker: { max_depth: maxDepth },
        apis: {
          calendar: {
            resource: "https://calendar.example.com",
            scopes: {
              "calendar.read": "Read events",
              "calendar.write": { description: "Change events", approval: "subject" },
            },
          },
        },
        agents: Object.fromEntries(
          Object.entries(agents).map(([id, a]) => [id, { secret_sha256: HASH, ...a }]),
        ),
      },
    },
  ]);
}

const ids = (policy: Policy, chain: string[], scope = "calendar.write") =>
  delegatesHolding(policy, chain, scope).map((a) => a.id);

const W = ["calendar.write"];

describe("delegatesHolding", () => {
  it("follows delegate_to on simple paths within max_depth, nearest first", () => {
    const chain = { a: { scopes: W, delegate_to: ["b"] }, b: { scopes: W, delegate_to: ["c"] } };
    const deep = policyOf({ ...chain, c: { scopes: W, delegate_to: ["a"] } });
    expect(ids(deep, ["a"])).toEqual(["b", "c"]);
    expect(ids(deep, ["b"])).toEqual(["c", "a"]);
    // Two agents at most: a → b only.
    const shallow = policyOf({ ...chain, c: { scopes: W } }, 2);
    expect(ids(shallow, ["a"])).toEqual(["b"]);
    expect(ids(shallow, ["b"])).toEqual(["c"]);
  });

  it("a chain so far counts against max_depth, and its agents never act again (rule 4)", () => {
    const policy = policyOf({
      a: { scopes: W, delegate_to: ["b"] },
      b: { scopes: W, delegate_to: ["a", "c"] },
      c: { scopes: W },
    });
    // b acting for a: [b, a] leaves room for one more, c; a is in the chain already.
    expect(ids(policy, ["b", "a"])).toEqual(["c"]);
    expect(ids(policy, ["c", "b", "a"])).toEqual([]);
  });

  it("every agent on the way enabled and holding the scope (rule 1 narrows each step)", () => {
    const policy = policyOf({
      a: { scopes: [...W, "calendar.read"], delegate_to: ["b", "off"] },
      b: { scopes: ["calendar.read"], delegate_to: ["c"] },
      c: { scopes: [...W, "calendar.read"] },
      off: { scopes: W, disabled: true },
    });
    expect(ids(policy, ["a"])).toEqual([]);
    expect(ids(policy, ["a"], "calendar.read")).toEqual(["b", "c"]);
  });
});

describe("coveredAgents", () => {
  it("the opener with the ceiling's elevated scopes, then each delegate with its own", () => {
    const policy = policyOf({
      a: { scopes: [...W, "calendar.read"], delegate_to: ["b", "r"] },
      b: { scopes: W },
      r: { scopes: ["calendar.read"] },
    });
    expect(coveredAgents(policy, ["a"], ["calendar.read", "calendar.write"])).toEqual([
      { agent: "a", scopes: ["calendar.write"], delegated: false },
      { agent: "b", scopes: ["calendar.write"], delegated: true },
    ]);
    // No elevated scope in the ceiling: the opener alone, with none.
    expect(coveredAgents(policy, ["a"], ["calendar.read"])).toEqual([
      { agent: "a", scopes: [], delegated: false },
    ]);
    expect(coveredAgents(policy, [], W)).toEqual([]);
  });
});
