/** Rules across files: compilePolicy on in-memory files. */
import { describe, expect, it } from "vitest";
import { compilePolicy, type PolicySource } from "../../src/policy/load.js";
import { agentsFile, apisFile, catchPolicyError, SECRET_SHA256 } from "./fixtures.js";

const base = (): PolicySource[] => [
  { file: "apis.yaml", data: apisFile() },
  { file: "agents.yaml", data: agentsFile() },
];
const issuesOf = (files: PolicySource[]) => catchPolicyError(() => compilePolicy(files)).issues;
const credential = { secret_sha256: SECRET_SHA256 };

describe("cross-file checks", () => {
  it("accepts the fixtures", () => {
    expect(compilePolicy(base()).agents.size).toBe(2);
  });

  it("allows broker at most once", () => {
    const files = [
      ...base(),
      { file: "a.yaml", data: { broker: {} } },
      { file: "b.yaml", data: { broker: {} } },
    ];
    expect(issuesOf(files)).toEqual(["b.yaml: broker: broker is already defined in a.yaml"]);
  });

  it("refuses an id defined in two files, naming both", () => {
    const files = [...base(), { file: "more.yaml", data: { agents: { planner: credential } } }];
    expect(issuesOf(files)).toEqual([
      'more.yaml: agents.planner: id "planner" is already defined as an agent in agents.yaml ' +
        "(API, agent, task template and approver group ids share one namespace)",
    ]);
  });

  it("shares one namespace between APIs, agents, tasks and approver groups", () => {
    const files = [
      ...base(),
      {
        file: "x.yaml",
        data: {
          agents: { calendar: credential },
          tasks: { helper: { ceiling: ["calendar.read"] } },
          approvers: { planner: ["alice"] },
        },
      },
    ];
    expect(issuesOf(files)).toEqual([
      expect.stringMatching(
        /^x\.yaml: agents\.calendar: id "calendar" is already defined as an API in apis\.yaml /,
      ),
      expect.stringMatching(
        /^x\.yaml: tasks\.helper: id "helper" is already defined as an agent in agents\.yaml /,
      ),
      expect.stringMatching(
        /^x\.yaml: approvers\.planner: id "planner" is already defined as an agent in agents\.yaml /,
      ),
    ]);
  });

  it("keeps scope names unique across APIs, and resources unique", () => {
    const other = {
      resource: "https://calendar.example.com",
      scopes: { "calendar.read": "Read again", "mail.read": "Read mail" },
    };
    expect(issuesOf([...base(), { file: "mail.yaml", data: { apis: { mail: other } } }])).toEqual([
      'mail.yaml: apis.mail.resource: resource "https://calendar.example.com" is already used by API calendar in apis.yaml',
      'mail.yaml: apis.mail.scopes["calendar.read"]: scope "calendar.read" is already defined by API calendar in apis.yaml',
    ]);
  });

  it("refuses an issuer listed twice", () => {
    const issuer = {
      issuer: "https://idp.example.com",
      jwks_uri: "https://idp.example.com/jwks",
      audience: "baton",
      algorithms: ["ES256"],
    };
    const files = [
      ...base(),
      { file: "a.yaml", data: { issuers: [issuer] } },
      { file: "b.yaml", data: { issuers: [issuer] } },
    ];
    expect(issuesOf(files)).toEqual([
      'b.yaml: issuers[0].issuer: issuer "https://idp.example.com" is already listed in a.yaml',
    ]);
  });

  it("wants agent scopes, default scopes and task ceilings to exist", () => {
    const agents = agentsFile();
    agents.agents.planner.scopes = ["calendar.read", "calendar.delete"];
    const apis = apisFile();
    apis.apis.calendar.default_scopes = ["calendar.read", "flights.search"];
    const tasks = { tasks: { trip: { ceiling: ["calendar.read", "nope"] } } };
    expect(
      issuesOf([
        { file: "apis.yaml", data: apis },
        { file: "agents.yaml", data: agents },
        { file: "tasks.yaml", data: tasks },
      ]),
    ).toEqual([
      'apis.yaml: apis.calendar.default_scopes[1]: "flights.search" is not a scope of API calendar',
      'agents.yaml: agents.planner.scopes[1]: unknown scope "calendar.delete": no API defines it',
      'tasks.yaml: tasks.trip.ceiling[1]: unknown scope "nope": no API defines it',
    ]);
  });

  it("wants delegate_to to name other, existing agents", () => {
    const agents = agentsFile();
    agents.agents.planner.delegate_to = ["helper", "planner", "ghost"];
    expect(
      issuesOf([
        { file: "apis.yaml", data: apisFile() },
        { file: "agents.yaml", data: agents },
      ]),
    ).toEqual([
      "agents.yaml: agents.planner.delegate_to[1]: an agent cannot delegate to itself",
      'agents.yaml: agents.planner.delegate_to[2]: unknown agent "ghost"',
    ]);
  });

  it("wants approval to be subject or an existing approver group", () => {
    const apis = apisFile();
    apis.apis.calendar.scopes["calendar.write"].approval = "admins";
    const tasks = {
      tasks: { trip: { ceiling: ["calendar.read"], approval: "ops" } },
      approvers: { ops: ["bob"] },
    };
    expect(
      issuesOf([
        { file: "apis.yaml", data: apis },
        { file: "tasks.yaml", data: tasks },
      ]),
    ).toEqual([
      'apis.yaml: apis.calendar.scopes["calendar.write"].approval: unknown approver "admins": use "subject" or a group under approvers',
    ]);
  });

  it("reserves subject as an approver group id", () => {
    expect(issuesOf([{ file: "g.yaml", data: { approvers: { subject: ["alice"] } } }])).toEqual([
      'g.yaml: approvers.subject: "subject" is reserved for the user and cannot be a group id',
    ]);
  });

  it("keeps default_ttl ≤ max_ttl and API max_ttl ≤ broker max_ttl", () => {
    const broker = { file: "broker.yaml", data: { broker: { default_ttl: "2h", max_ttl: "1h" } } };
    const apis = apisFile();
    apis.apis.calendar.max_ttl = "61m";
    expect(issuesOf([broker, { file: "apis.yaml", data: apis }])).toEqual([
      "broker.yaml: broker.default_ttl: 2h is longer than broker.max_ttl 1h",
      "apis.yaml: apis.calendar.max_ttl: 61m is longer than broker.max_ttl 1h",
    ]);
    // Without a broker section the default cap (1h) applies.
    expect(issuesOf([{ file: "apis.yaml", data: apis }])).toEqual([
      "apis.yaml: apis.calendar.max_ttl: 61m is longer than broker.max_ttl 1h",
    ]);
  });

  it("reports every problem at once", () => {
    const agents = agentsFile();
    agents.agents.planner.scopes = ["x1", "x2"];
    agents.agents.planner.delegate_to = ["ghost"];
    expect(
      issuesOf([
        { file: "apis.yaml", data: apisFile() },
        { file: "agents.yaml", data: agents },
      ]),
    ).toHaveLength(3);
  });
});

describe("compilePolicy", () => {
  it("builds the indexes", () => {
    const policy = compilePolicy(base());
    expect(policy.broker).toEqual({
      signingAlg: "EdDSA",
      defaultTtl: 300,
      maxTtl: 3600,
      maxDepth: 3,
      clockSkew: 30,
      devIssuer: false,
      maxTaskTtl: 8 * 3600,
      maxTaskTokens: 1000,
      approvalTtl: 600,
      maxOpenApprovals: 10,
    });
    const calendar = policy.apis.get("calendar");
    expect(calendar?.maxTtl).toBe(600);
    expect(policy.apisByResource.get("https://calendar.example.com")).toBe(calendar);
    expect(policy.scopes.get("calendar.write")).toEqual({
      name: "calendar.write",
      api: "calendar",
      description: "Change events",
      approval: "subject",
    });
    expect(policy.scopes.get("calendar.read")).toEqual({
      name: "calendar.read",
      api: "calendar",
      description: "Read events",
    });
    expect(calendar?.scopes.get("calendar.read")).toBe(policy.scopes.get("calendar.read"));
    expect(policy.agents.get("planner")?.delegateTo).toEqual(new Set(["helper"]));
    expect(policy.files).toEqual(["apis.yaml", "agents.yaml"]);
  });

  it("compiles issuers, tasks and approvers", () => {
    const policy = compilePolicy([
      ...base(),
      {
        file: "more.yaml",
        data: {
          issuers: [
            {
              issuer: "https://idp.example.com",
              jwks_uri: "https://idp.example.com/jwks",
              audience: "baton",
              algorithms: ["ES256"],
              scopes_bound: true,
            },
          ],
          tasks: {
            trip: {
              ceiling: ["calendar.read"],
              max_ttl: "30m",
              max_tokens: 5,
              approval: "subject",
            },
          },
          approvers: { admins: ["alice", "bob"] },
        },
      },
    ]);
    expect(policy.issuers.get("https://idp.example.com")).toEqual({
      issuer: "https://idp.example.com",
      jwksUri: "https://idp.example.com/jwks",
      audience: "baton",
      algorithms: ["ES256"],
      scopesBound: true,
      maxTokenLifetime: 86400,
      idJag: false,
    });
    expect(policy.tasks.get("trip")).toEqual({
      id: "trip",
      description: "",
      ceiling: ["calendar.read"],
      maxTtl: 1800,
      maxTokens: 5,
      approval: "subject",
    });
    expect(policy.approvers.get("admins")).toEqual(new Set(["alice", "bob"]));
  });
});
