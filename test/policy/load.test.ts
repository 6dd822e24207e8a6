/** loadPolicy: reading a directory, YAML problems, and the demo policies in policies/. */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadPolicy, PolicyError } from "../../src/policy/load.js";
import { tempPolicyDir } from "./fixtures.js";

const API_YAML = `apis:
  calendar:
    resource: https://calendar.example.com
    scopes:
      calendar.read: Read events
`;
const AGENT_YAML = `agents:
  planner:
    secret_sha256: ${"b".repeat(64)}
    scopes: [calendar.read]
`;

const dirs: string[] = [];
async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await tempPolicyDir(files);
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function loadIssues(dir: string): Promise<string[]> {
  const err = await loadPolicy(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PolicyError)) throw new Error(`expected a PolicyError, got ${String(err)}`);
  return err.issues;
}

describe("loadPolicy", () => {
  it("merges *.yaml and *.yml files in name order, ignoring other files", async () => {
    const dir = await dirWith({
      "b-agents.yml": AGENT_YAML,
      "a-apis.yaml": API_YAML,
      "policy.schema.json": "{}",
      "README.md": "# not policy",
      ".hidden.yaml": "this: is: not: read",
      "empty.yaml": "# nothing here yet\n",
    });
    await mkdir(join(dir, "nested.yaml"));
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "sub", "x.yaml"), "broken: [");
    const policy = await loadPolicy(dir);
    expect(policy.files).toEqual(["a-apis.yaml", "b-agents.yml", "empty.yaml"]);
    expect([...policy.agents.keys()]).toEqual(["planner"]);
  });

  it("reports a missing directory, and a directory without policy files", async () => {
    const dir = await dirWith({ "notes.txt": "" });
    expect(await loadIssues(join(dir, "nope"))).toEqual([
      `${join(dir, "nope")}: no such directory`,
    ]);
    expect(await loadIssues(dir)).toEqual([`${dir}: no policy files (*.yaml, *.yml) found`]);
  });

  it("reports YAML syntax errors as file: line N: message, for every file", async () => {
    const dir = await dirWith({
      "a.yaml": API_YAML,
      "b.yaml": "agents:\n  planner: x: y\n",
      "c.yaml": "apis: {}\napis: {}\n",
    });
    expect(await loadIssues(dir)).toEqual([
      "b.yaml: line 2: Nested mappings are not allowed in compact mappings",
      "c.yaml: apis: duplicate key (line 2, first at line 1)",
    ]);
  });

  it("names a duplicated key by its path, with its line and the first one's (issue 17)", async () => {
    const dir = await dirWith({
      "apis.yaml": `${API_YAML}  mail:\n    resource: https://mail.example.com\n    scopes: { mail.send: Send }\n  calendar:\n    resource: https://other.example.com\n    scopes: { calendar.write: Write }\n`,
      "agents.yaml": `agents:\n  planner:\n    scopes: [calendar.read]\n    scopes: [mail.send]\n    secret_sha256: ${"b".repeat(64)}\n`,
    });
    expect(await loadIssues(dir)).toEqual([
      "agents.yaml: agents.planner.scopes: duplicate key (line 4, first at line 3)",
      "apis.yaml: apis.calendar: duplicate key (line 9, first at line 2)",
    ]);
  });

  it("reports schema and cross-reference problems in one run: a key typo hides nothing (issue 17)", async () => {
    const dir = await dirWith({
      "apis.yaml": API_YAML,
      "agents.yaml": `agents:
  planner:
    secret_sha256: ${"b".repeat(64)}
    scoeps: [calendar.read]
    scopes: [calendar.read]
    delegate_to: [helper]
  helper:
    secret_sha256: ${"c".repeat(64)}
    scopes: [calendar.read, calendar.wirte]
  broken:
    secret_sha256: 42
    scopes: 7
    delegate_to: [nobody]
`,
      "tasks.yaml": "tasks:\n  t:\n    ceiling: [calendar.read, mail.send]\n    max_tokens: many\n",
    });
    expect(await loadIssues(dir)).toEqual([
      "agents.yaml: agents.planner.scoeps: unknown key; expected one of: description, secret_sha256, jwks, scopes, delegate_to, impersonate, disabled, delegated_only, rate_limit, introspects",
      "agents.yaml: agents.broken.secret_sha256: expected text, got number 42",
      "agents.yaml: agents.broken.scopes: expected a list, got number 7",
      "tasks.yaml: tasks.t.max_tokens: must be a whole number",
      'agents.yaml: agents.helper.scopes[1]: unknown scope "calendar.wirte": no API defines it',
      'tasks.yaml: tasks.t.ceiling[1]: unknown scope "mail.send": no API defines it',
    ]);
  });

  it("reports an unresolved alias", async () => {
    const dir = await dirWith({ "a.yaml": "agents: *missing\n" });
    const issues = await loadIssues(dir);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^a\.yaml: Unresolved alias .*: missing$/);
  });

  it("reports schema and cross-file problems with the file name", async () => {
    const dir = await dirWith({
      "apis.yaml": API_YAML,
      "agents.yaml": `${AGENT_YAML}    delegate_to: [ghost]\n`,
      "more.yaml": "agents:\n  calendar:\n    secret_sha256: nothex\n",
    });
    // The cross-file checks run on what did parse, so the unknown agent shows in the same run.
    expect(await loadIssues(dir)).toEqual([
      "more.yaml: agents.calendar.secret_sha256: must be 64 lowercase hex characters: the SHA-256 of the secret",
      'agents.yaml: agents.planner.delegate_to[0]: unknown agent "ghost"',
    ]);
    await writeFile(
      join(dir, "more.yaml"),
      `agents:\n  calendar:\n    secret_sha256: ${"c".repeat(64)}\n`,
    );
    expect(await loadIssues(dir)).toEqual([
      'more.yaml: agents.calendar: id "calendar" is already defined as an API in apis.yaml ' +
        "(API, agent, task template and approver group ids share one namespace)",
      'agents.yaml: agents.planner.delegate_to[0]: unknown agent "ghost"',
    ]);
  });
});

describe("the demo policies (the tests' copy in test/fixtures/policies/)", () => {
  it("load and compile to the expected indexes", async () => {
    const policy = await loadPolicy("test/fixtures/policies");
    expect(policy.files).toEqual(["agents.yaml", "apis.yaml", "broker.yaml", "tasks.yaml"]);
    expect(policy.broker).toEqual({
      signingAlg: "EdDSA",
      defaultTtl: 300,
      maxTtl: 3600,
      maxDepth: 3,
      clockSkew: 30,
      devIssuer: true,
      maxTaskTtl: 8 * 3600,
      maxTaskTokens: 1000,
      approvalTtl: 600,
      maxOpenApprovals: 10,
      rateLimit: {
        perAgent: { requests: 600, windowSeconds: 60 },
        perSubject: { requests: 600, windowSeconds: 60 },
        clientAuthFailures: { requests: 20, windowSeconds: 60 },
      },
    });
    expect([...policy.apis.keys()]).toEqual(["calendar", "flights", "payments"]);
    expect([...policy.apisByResource.keys()]).toEqual([
      "https://calendar.example.com",
      "https://flights.example.com",
      "https://payments.example.com",
    ]);
    expect(
      Object.fromEntries([...policy.scopes].map(([name, s]) => [name, [s.api, s.approval]])),
    ).toEqual({
      "calendar.read": ["calendar", undefined],
      "calendar.write": ["calendar", "subject"],
      "flights.search": ["flights", undefined],
      "flights.book": ["flights", "subject"],
      "payments.charge": ["payments", "travel-admins"],
    });
    const orchestrator = policy.agents.get("orchestrator");
    expect(orchestrator?.scopes).toEqual(
      new Set(["calendar.read", "calendar.write", "flights.search", "flights.book"]),
    );
    expect(orchestrator?.delegateTo).toEqual(new Set(["flight-booker"]));
    expect(policy.agents.get("flight-booker")?.scopes).toEqual(
      new Set(["flights.search", "flights.book", "payments.charge"]),
    );
    expect(policy.tasks.get("book-trip")).toMatchObject({
      maxTtl: 1800,
      maxTokens: 50,
      approval: "subject",
    });
    expect(policy.approvers.get("travel-admins")).toEqual(new Set(["alice@example.com"]));
  });

  it("store the SHA-256 of the documented demo secrets", async () => {
    const { createHash } = await import("node:crypto");
    const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
    const policy = await loadPolicy("test/fixtures/policies");
    expect(policy.agents.get("orchestrator")?.secretSha256).toBe(sha256("orchestrator-secret"));
    expect(policy.agents.get("flight-booker")?.secretSha256).toBe(sha256("flight-booker-secret"));
  });
});
