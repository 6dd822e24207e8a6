/**
 * Issue 17: every rule of the `Rule` union in src/rules.ts has plain words for
 * `baton audit --denied`. The union is read from the source and its template literals expanded,
 * so a rule added there without words fails here (and at typecheck, through RULE_WORDS' type).
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RULE_WORDS, ruleWords } from "../../src/cli/rule-words.js";

/** Every member of `export type Rule = …`, its `${"a" | "b"}` parts expanded. */
function rulesInSource(): string[] {
  const source = readFileSync(new URL("../../src/rules.ts", import.meta.url), "utf8");
  const block = /export type Rule =([\s\S]*?);/.exec(source)?.[1] ?? "";
  const rules: string[] = [];
  for (const raw of block.split("\n")) {
    const line = raw.trim();
    const quoted = /^\| "([^"]+)"$/.exec(line);
    if (quoted) rules.push(quoted[1] as string);
    const template = /^\| `([^`]*)`$/.exec(line);
    if (!template) continue;
    const [before, alternatives, after] = (template[1] as string).split(/\$\{|\}/);
    const names = [...(alternatives ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    for (const name of names) rules.push(`${before}${name}${after}`);
  }
  return rules;
}

describe("rule words", () => {
  const rules = rulesInSource();

  it("reads the whole union (a parser that finds nothing proves nothing)", () => {
    expect(rules.length).toBeGreaterThan(80);
    expect(rules).toContain("subject.untrusted_issuer");
    expect(rules).toContain("audit.unavailable");
    expect(rules).toContain("client.assertion_replay");
  });

  it("every rule of the Rule union has words, and no words are for a rule that is gone", () => {
    const missing = rules.filter((r) => !(r in RULE_WORDS));
    expect(missing).toEqual([]);
    expect(Object.keys(RULE_WORDS).sort()).toEqual([...rules].sort());
  });

  it("the words are a plain sentence, not the rule again", () => {
    for (const [rule, words] of Object.entries(RULE_WORDS)) {
      expect(words, rule).toMatch(/^[a-z(]/);
      if (rule.includes(".")) expect(words, rule).not.toContain(rule);
      expect(words.length, rule).toBeGreaterThan(15);
    }
  });

  it("a port mix-up reads as one", () => {
    expect(ruleWords("subject.untrusted_issuer")).toBe(
      "the subject token's issuer is not trusted by this broker (was it minted for another port or issuer?)",
    );
  });

  it("a verifier's findings read as words too; an unknown rule is shown as it is", () => {
    expect(ruleWords("subject.signature")).toBe(
      "the subject token has a signature that does not verify",
    );
    expect(ruleWords("actor.claim.iat")).toMatch(/^the actor token is not valid yet/);
    expect(ruleWords("client.assertion.expired")).toBe("the client assertion has expired");
    expect(ruleWords("subject.claim.sid")).toBe("the subject token has a missing or bad sid claim");
    expect(ruleWords("bearer.jwt_expired")).toBe("the bearer token has expired");
    expect(ruleWords("nobody.knows")).toBe("refused by rule nobody.knows");
  });
});
