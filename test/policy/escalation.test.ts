/**
 * `findPolicyWarnings` (issue 8): escalation paths and parts of a policy that can never be
 * used, on small YAML policies in temp dirs, and what the demo policies draw.
 */

import { rm } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { definedIn, findPolicyWarnings, type PolicyWarning } from "../../src/policy/escalation.js";
import { compilePolicy, readPolicySources } from "../../src/policy/load.js";
import { issueLine } from "../../src/policy/policy-error.js";
import { tempPolicyDir } from "./fixtures.js";

const HASH = "d".repeat(64);

const APIS = `
apis:
  calendar:
    resource: https://calendar.example.com
    scopes:
      calendar.read: Read events
      calendar.write: { description: Change events, approval: subject }
  docs:
    resource: https://docs.example.com
    scopes:
      docs.read: Read documents
`;

const agent = (id: string, body: string) =>
  `  ${id}:\n    secret_sha256: ${HASH}\n${body
    .trim()
    .split("\n")
    .map((l) => `    ${l.trim()}`)
    .join("\n")}\n`;

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function warningsOf(files: Record<string, string>): Promise<PolicyWarning[]> {
  const dir = await tempPolicyDir(files);
  dirs.push(dir);
  return warningsIn(dir);
}

async function warningsIn(dir: string): Promise<PolicyWarning[]> {
  const sources = await readPolicySources(dir);
  return findPolicyWarnings(compilePolicy(sources), definedIn(sources));
}

const lines = (warnings: readonly PolicyWarning[]) =>
  warnings.map((w) => issueLine(w.file, w.path, w.message));
const kinds = (warnings: readonly PolicyWarning[]) => warnings.map((w) => w.kind);

describe("findPolicyWarnings", () => {
  it("a sound policy draws none", async () => {
    const warnings = await warningsOf({
      "p.yaml": `${APIS}agents:\n${agent("planner", "scopes: [calendar.read, calendar.write, docs.read]\ndelegate_to: [reader]")}${agent("reader", "scopes: [docs.read]")}`,
    });
    expect(warnings).toEqual([]);
  });

  describe("(a) escalation paths", () => {
    it("none for a sub-agent that gets an elevated scope under a task's approval: the approval names it", async () => {
      // A task's one approval names every agent it covers (policy/delegation-reach.ts), and the
      // broker holds the task's grants to them (test/adversarial/task-approval-covers.test.ts).
      const warnings = await warningsOf({
        "apis.yaml": APIS,
        "agents.yaml": `agents:\n${agent("planner", "scopes: [calendar.read, calendar.write, docs.read]\ndelegate_to: [helper]")}${agent("helper", "scopes: [calendar.read, calendar.write]")}`,
        "tasks.yaml":
          "tasks:\n  plan:\n    ceiling: [calendar.read, calendar.write]\n    approval: subject\n",
      });
      expect(warnings).toEqual([]);
    });

    it("a narrowing or disabled sub-agent draws only what can never be used", async () => {
      const warnings = await warningsOf({
        "p.yaml": `${APIS}agents:\n${agent("a", "scopes: [calendar.read, calendar.write]\ndelegate_to: [b, off]")}${agent("b", "scopes: [calendar.read]\ndelegate_to: [c]")}${agent("c", "scopes: [calendar.read, calendar.write]")}${agent("off", "scopes: [calendar.write]\ndisabled: true")}`,
      });
      expect(kinds(warnings)).toEqual(["scope-unreachable", "delegation-unusable"]);
      expect(lines(warnings)).toEqual([
        'p.yaml: apis.docs.scopes["docs.read"]: no agent lists it: no token can ever carry it',
        "p.yaml: agents.a.delegate_to[1]: a can never delegate to off: off is disabled",
      ]);
    });

    it("an impersonating agent with an elevated scope", async () => {
      const warnings = await warningsOf({
        "p.yaml": `${APIS}agents:\n${agent("svc", "scopes: [calendar.write, docs.read]\nimpersonate: true")}${agent("quiet", "scopes: [calendar.read]\nimpersonate: true")}`,
      });
      expect(lines(warnings)).toEqual([
        "p.yaml: agents.svc.impersonate: svc may impersonate and holds elevated scope calendar.write: on a user's own token its tokens carry no act, so neither the approver nor the API can tell the agent from the user (RFC 8693 §1.1)",
      ]);
    });

    it("an agent id among the approvers", async () => {
      const warnings = await warningsOf({
        "p.yaml": `${APIS}agents:\n${agent("bot", "scopes: [calendar.read, calendar.write, docs.read]")}approvers:\n  admins: [carol@example.com, bot]\n`,
      });
      expect(lines(warnings)).toEqual([
        'p.yaml: approvers.admins[1]: "bot" is an agent id: a token whose sub is bot would let it decide approvals, which only a human may',
      ]);
    });
  });

  describe("(b) scopes no agent can get", () => {
    it("listed by no agent, or by disabled agents only", async () => {
      const warnings = await warningsOf({
        "apis.yaml": APIS,
        "agents.yaml": `agents:\n${agent("a", "scopes: [calendar.read]")}${agent("off", "scopes: [docs.read]\ndisabled: true")}`,
      });
      expect(lines(warnings)).toEqual([
        'apis.yaml: apis.calendar.scopes["calendar.write"]: no agent lists it: no token can ever carry it',
        'apis.yaml: apis.docs.scopes["docs.read"]: only disabled agents list it (off): no token can ever carry it',
      ]);
    });
  });

  describe("(c) delegation that can never happen", () => {
    it("no shared scope, max_depth 1, an agent with no scopes", async () => {
      const agents = `agents:\n${agent("a", "scopes: [calendar.read, calendar.write]\ndelegate_to: [b]")}${agent("b", "scopes: [docs.read]")}${agent("idle", "description: nothing yet")}`;
      const warnings = await warningsOf({ "p.yaml": `${APIS}${agents}` });
      expect(lines(warnings)).toEqual([
        "p.yaml: agents.a.delegate_to[0]: a can never delegate to b: they share no scope, and a delegation token is narrowed to both",
        "p.yaml: agents.idle.scopes: lists no scopes: this agent can get no token and delegate none",
      ]);
      const flat = await warningsOf({
        "p.yaml": `broker:\n  max_depth: 1\n${APIS}agents:\n${agent("a", "scopes: [calendar.read, calendar.write, docs.read]\ndelegate_to: [b]")}${agent("b", "scopes: [calendar.write]")}`,
      });
      // With no room for two agents there is no delegation, so no task approval reaches b.
      expect(lines(flat)).toEqual([
        "p.yaml: agents.a.delegate_to[0]: a can never delegate to b: broker.max_depth is 1, so no chain has room for two agents",
      ]);
    });

    it("an agent no one delegates to is a root agent, not a warning", async () => {
      const warnings = await warningsOf({
        "p.yaml": `${APIS}agents:\n${agent("alone", "scopes: [calendar.read, calendar.write, docs.read]")}`,
      });
      expect(warnings).toEqual([]);
    });

    it("in a policy that delegates, an agent in no delegation at all (a forgotten delegate_to)", async () => {
      const agents = `agents:\n${agent("planner", "scopes: [calendar.read, docs.read]\ndelegate_to: [reader]")}${agent("reader", "scopes: [docs.read]")}${agent("booker", "scopes: [calendar.read, calendar.write]")}`;
      const warnings = await warningsOf({ "p.yaml": `${APIS}${agents}` });
      expect(lines(warnings)).toEqual([
        "p.yaml: agents.booker: no agent delegates to it and it delegates to none: it acts only on a user's own token. If it is meant to be a sub-agent, add it to its delegator's delegate_to",
      ]);
      expect(kinds(warnings)).toEqual(["agent-outside-delegation"]);
    });
  });
});
