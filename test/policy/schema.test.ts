/** One file's shape: what the zod schema accepts, and how its problems read. */
import { describe, expect, it } from "vitest";
import { compilePolicy } from "../../src/policy/load.js";
import { validatePolicyFile } from "../../src/policy/validate.js";
import { agentsFile, apisFile, catchPolicyError } from "./fixtures.js";

/** The issue lines for one file, or [] when it is valid. */
function issuesOf(data: unknown): string[] {
  const result = validatePolicyFile("p.yaml", data);
  return result.ok ? [] : result.issues;
}

const agent = (extra: Record<string, unknown>) => ({
  agents: { a1: { secret_sha256: "a".repeat(64), ...extra } },
});
const issuer = (extra: Record<string, unknown>) => ({
  issuers: [
    {
      issuer: "https://idp.example.com",
      audience: "http://127.0.0.1:8787",
      algorithms: ["RS256"],
      jwks_uri: "https://idp.example.com/jwks",
      ...extra,
    },
  ],
});
const publicRsa = { kty: "RSA", kid: "k1", n: "AQAB", e: "AQAB" };

describe("broker.approval_login", () => {
  const login = (approval_login: Record<string, unknown>) => ({ broker: { approval_login } });

  it("takes an https provider and a client id; claim defaults to sub", () => {
    const result = validatePolicyFile(
      "p.yaml",
      login({ issuer: "https://idp.example.com", client_id: "baton" }),
    );
    expect(result.ok && result.value.broker?.approval_login).toEqual({
      issuer: "https://idp.example.com",
      client_id: "baton",
      claim: "sub",
    });
    const policy = compilePolicy([
      {
        file: "p.yaml",
        data: login({ issuer: "http://localhost:9000", client_id: "b", claim: "email" }),
      },
    ]);
    expect(policy.broker.approvalLogin).toEqual({
      issuer: "http://localhost:9000",
      clientId: "b",
      claim: "email",
    });
  });

  it("refuses plain http beyond loopback, an empty client id, other claims, a secret in policy", () => {
    expect(issuesOf(login({ issuer: "http://idp.example.com", client_id: "b" }))).toEqual([
      "p.yaml: broker.approval_login.issuer: must be an https URL (http only on localhost)",
    ]);
    expect(issuesOf(login({ issuer: "https://idp.example.com", client_id: "" }))).toEqual([
      "p.yaml: broker.approval_login.client_id: must not be empty",
    ]);
    expect(
      issuesOf(login({ issuer: "https://idp.example.com", client_id: "b", claim: "name" })),
    ).toHaveLength(1);
    expect(
      issuesOf(login({ issuer: "https://idp.example.com", client_id: "b", client_secret: "s" }))[0],
    ).toMatch(/^p\.yaml: broker\.approval_login\.client_secret: unknown key/);
  });
});

describe("PolicyFileSchema", () => {
  it("accepts the fixtures and an empty file", () => {
    expect(issuesOf(apisFile())).toEqual([]);
    expect(issuesOf(agentsFile())).toEqual([]);
    expect(issuesOf({})).toEqual([]);
  });

  it("applies defaults", () => {
    const result = validatePolicyFile("p.yaml", { broker: {}, ...agent({}) });
    expect(result.ok && result.value.broker).toEqual({
      signing_alg: "EdDSA",
      default_ttl: "5m",
      max_ttl: "1h",
      max_depth: 3,
      clock_skew: "30s",
      dev_issuer: false,
      max_task_ttl: "8h",
      max_task_tokens: 1000,
      approval_ttl: "10m",
      max_open_approvals: 10,
    });
    expect(result.ok && result.value.agents?.a1).toMatchObject({
      description: "",
      scopes: [],
      delegate_to: [],
      impersonate: false,
      disabled: false,
      introspects: [],
    });
  });

  it("refuses unknown keys, at top level and inside, naming the key", () => {
    expect(issuesOf({ polices: {} })).toEqual([
      "p.yaml: polices: unknown key; expected one of: broker, issuers, apis, agents, tasks, approvers",
    ]);
    expect(issuesOf(agent({ scope: ["x"] }))[0]).toMatch(
      /^p\.yaml: agents\.a1\.scope: unknown key; expected one of: description, secret_sha256, /,
    );
  });

  it("reports a bad scope in a list with its index, and a bad id as a bad key", () => {
    expect(issuesOf(agent({ scopes: ["ok", "not ok"] }))).toEqual([
      "p.yaml: agents.a1.scopes[1]: must be 1-128 characters of A-Z, a-z, 0-9, ':', '.', '_' or '-', no spaces",
    ]);
    expect(issuesOf({ agents: { Planner: { secret_sha256: "a".repeat(64) } } })).toEqual([
      "p.yaml: agents.Planner: bad key: must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a-z or 0-9",
    ]);
  });

  it("refuses a repeated list entry", () => {
    expect(issuesOf(agent({ scopes: ["a", "b", "a"] }))).toEqual([
      'p.yaml: agents.a1.scopes[2]: "a" is listed twice',
    ]);
  });

  it("refuses bad durations", () => {
    expect(issuesOf({ broker: { max_ttl: "1d" } })).toEqual([
      "p.yaml: broker.max_ttl: must be a duration: a whole number and s, m or h (e.g. 30s, 5m, 1h)",
    ]);
    expect(issuesOf({ broker: { default_ttl: 300 } })).toEqual([
      "p.yaml: broker.default_ttl: expected text, got number 300",
    ]);
  });

  it("keeps max_depth within 1..10", () => {
    expect(issuesOf({ broker: { max_depth: 0 } })).toEqual([
      "p.yaml: broker.max_depth: must be at least 1",
    ]);
    expect(issuesOf({ broker: { max_depth: 11 } })).toEqual([
      "p.yaml: broker.max_depth: must be at most 10",
    ]);
    expect(issuesOf({ broker: { max_depth: 2.5 } })).toEqual([
      "p.yaml: broker.max_depth: must be a whole number",
    ]);
  });

  it("names missing required fields and wrong types in YAML words", () => {
    expect(issuesOf({ apis: { cal: { scopes: { r: "Read" } } } })).toEqual([
      "p.yaml: apis.cal.resource: is required",
    ]);
    expect(issuesOf({ apis: null })).toEqual([
      "p.yaml: apis: expected a mapping, got nothing (null)",
    ]);
    expect(issuesOf([])).toEqual(["p.yaml: expected a mapping, got a list"]);
  });

  it("wants an agent credential and a well-formed secret hash", () => {
    expect(issuesOf({ agents: { a1: { scopes: [] } } })).toEqual([
      "p.yaml: agents.a1: needs a credential: secret_sha256 or jwks (or both)",
    ]);
    expect(issuesOf({ agents: { a1: { secret_sha256: "A".repeat(64) } } })).toEqual([
      "p.yaml: agents.a1.secret_sha256: must be 64 lowercase hex characters: the SHA-256 of the secret",
    ]);
    expect(issuesOf({ agents: { a1: { jwks: { keys: [publicRsa] } } } })).toEqual([]);
  });

  it("refuses private JWK members, naming the member", () => {
    expect(
      issuesOf({ agents: { a1: { jwks: { keys: [{ ...publicRsa, d: "secret" }] } } } }),
    ).toEqual([
      'p.yaml: agents.a1.jwks.keys[0].d: private key member "d" must not appear in policy: publish the public key only',
    ]);
    expect(
      issuesOf(
        issuer({
          jwks_uri: undefined,
          jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "x", k: "k" }] },
        }),
      ),
    ).toEqual([
      'p.yaml: issuers[0].jwks.keys[0].k: private key member "k" must not appear in policy: publish the public key only',
    ]);
    expect(issuesOf(agent({ jwks: { keys: [{ kty: "oct", k: "k" }] } }))).toHaveLength(2);
  });

  it("checks issuers: jwks_uri xor jwks, https keys, asymmetric algorithms", () => {
    expect(issuesOf(issuer({}))).toEqual([]);
    expect(issuesOf(issuer({ jwks: { keys: [publicRsa] } }))).toEqual([
      "p.yaml: issuers[0]: needs exactly one of jwks_uri and jwks",
    ]);
    expect(issuesOf(issuer({ jwks_uri: undefined }))).toEqual([
      "p.yaml: issuers[0]: needs exactly one of jwks_uri and jwks",
    ]);
    expect(issuesOf(issuer({ jwks_uri: "http://idp.example.com/jwks" }))).toEqual([
      "p.yaml: issuers[0].jwks_uri: must be an https URL (http only on localhost)",
    ]);
    expect(issuesOf(issuer({ jwks_uri: "http://127.0.0.1:9000/jwks" }))).toEqual([]);
    for (const alg of ["none", "HS256"]) {
      expect(issuesOf(issuer({ algorithms: ["RS256", alg] }))[0]).toMatch(
        /^p\.yaml: issuers\[0\]\.algorithms\[1\]: must be one of RS256, .*: never none or HMAC$/,
      );
    }
    const parsed = validatePolicyFile("p.yaml", issuer({}));
    expect(parsed.ok && parsed.value.issuers?.[0]?.scopes_bound).toBe(false);
  });

  it("checks API resources and scopes", () => {
    const api = (extra: Record<string, unknown>) => ({
      apis: { cal: { ...apisFile().apis.calendar, ...extra } },
    });
    expect(issuesOf(api({ resource: "calendar.example.com" }))).toEqual([
      "p.yaml: apis.cal.resource: must be an absolute URI",
    ]);
    expect(issuesOf(api({ resource: "https://cal.example.com/#x" }))).toEqual([
      "p.yaml: apis.cal.resource: must not contain a fragment (RFC 8707 §2)",
    ]);
    expect(issuesOf(api({ scopes: {} }))).toEqual([
      "p.yaml: apis.cal.scopes: an API needs at least one scope",
    ]);
    expect(
      issuesOf(api({ scopes: { "calendar.read": { description: "Read", aproval: "subject" } } })),
    ).toEqual([
      'p.yaml: apis.cal.scopes["calendar.read"].aproval: unknown key; expected one of: description, approval',
    ]);
    expect(issuesOf(api({ scopes: { "calendar.read": 3 } }))).toEqual([
      'p.yaml: apis.cal.scopes["calendar.read"]: must be a description, or a mapping with description and approval',
    ]);
  });

  it("is what compilePolicy reports, for every file at once", () => {
    const files = [
      { file: "a.yaml", data: { broker: { max_depth: 0 } } },
      { file: "b.yaml", data: { agents: { a1: {} } } },
    ];
    const err = catchPolicyError(() => compilePolicy(files));
    expect(err.issues).toEqual([
      "a.yaml: broker.max_depth: must be at least 1",
      "b.yaml: agents.a1: needs a credential: secret_sha256 or jwks (or both)",
    ]);
    expect(err.message).toBe(
      "Invalid policy (2 problems):\n  a.yaml: broker.max_depth: must be at least 1\n  b.yaml: agents.a1: needs a credential: secret_sha256 or jwks (or both)",
    );
  });
});
