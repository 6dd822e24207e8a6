/**
 * The policy side of ID-JAGs (issue 18, design §3.3): `issuers[].id_jag`, and an API behind its
 * own authorization server (`authorization_server` with each agent's `client_ids` there).
 */
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { loadPolicy, PolicyError } from "../../src/policy/load.js";
import { SECRET_SHA256, tempPolicyDir } from "./fixtures.js";

const CHAT = `apis:
  chat:
    resource: https://mcp.chat.example/
    authorization_server: https://auth.chat.example/
    client_ids: { orchestrator: f53f191f9311af35 }
    max_ttl: 5m
    scopes:
      chat.read: Read messages
      chat.post: { description: Post, approval: subject }
`;
const AGENTS = `agents:
  orchestrator:
    secret_sha256: ${SECRET_SHA256}
    scopes: [chat.read, chat.post]
`;
const ISSUER = `issuers:
  - issuer: https://idp.example.com
    jwks_uri: https://idp.example.com/jwks.json
    audience: http://127.0.0.1:8787
    algorithms: [ES256]
    id_jag: true
`;

const dirs: string[] = [];
async function load(files: Record<string, string>) {
  const dir = await tempPolicyDir(files);
  dirs.push(dir);
  return loadPolicy(dir);
}
async function issuesOf(files: Record<string, string>): Promise<string[]> {
  const err = await load(files).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PolicyError)) throw new Error(`expected a PolicyError, got ${String(err)}`);
  return err.issues;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe("ID-JAG policy", () => {
  it("compiles an API behind its own authorization server, and an issuer whose ID-JAGs count", async () => {
    const policy = await load({ "apis.yaml": CHAT, "agents.yaml": AGENTS, "issuers.yaml": ISSUER });
    const chat = policy.apis.get("chat");
    expect(chat?.authorizationServer).toBe("https://auth.chat.example/");
    expect(chat?.clientIds).toEqual(new Map([["orchestrator", "f53f191f9311af35"]]));
    expect(policy.issuers.get("https://idp.example.com")?.idJag).toBe(true);
  });

  it("leaves both off by default", async () => {
    const policy = await load({
      "apis.yaml": CHAT.replace(/ {4}(authorization_server|client_ids):.*\n/g, ""),
      "agents.yaml": AGENTS,
      "issuers.yaml": ISSUER.replace("    id_jag: true\n", ""),
    });
    expect(policy.apis.get("chat")?.authorizationServer).toBeUndefined();
    expect(policy.apis.get("chat")?.clientIds).toBeUndefined();
    expect(policy.issuers.get("https://idp.example.com")?.idJag).toBe(false);
  });

  it("refuses authorization_server without client_ids, and the other way round", async () => {
    for (const key of ["authorization_server", "client_ids"]) {
      const apis = CHAT.replace(new RegExp(` {4}${key}:.*\\n`), "");
      const issues = await issuesOf({ "apis.yaml": apis, "agents.yaml": AGENTS });
      expect(issues[0]).toBe(
        "apis.yaml: apis.chat: authorization_server and client_ids go together: ID-JAGs need both",
      );
      // The invalid API is left out, so the agent's scopes of it are reported in the same run.
      expect(issues.slice(1)).toEqual([
        'agents.yaml: agents.orchestrator.scopes[0]: unknown scope "chat.read": no API defines it',
        'agents.yaml: agents.orchestrator.scopes[1]: unknown scope "chat.post": no API defines it',
      ]);
    }
  });

  it("refuses a client_ids entry for an unknown agent, and a client_id with a space", async () => {
    const apis = CHAT.replace(
      "{ orchestrator: f53f191f9311af35 }",
      '{ orchestrator: "f53f 191f", ghost: abc }',
    );
    expect(await issuesOf({ "apis.yaml": apis, "agents.yaml": AGENTS })).toEqual([
      "apis.yaml: apis.chat.client_ids.orchestrator: must be printable ASCII without spaces",
      'apis.yaml: apis.chat.client_ids.ghost: unknown agent "ghost"',
    ]);
    const ghost = CHAT.replace("{ orchestrator: f53f191f9311af35 }", "{ ghost: abc }");
    expect(await issuesOf({ "apis.yaml": ghost, "agents.yaml": AGENTS })).toEqual([
      'apis.yaml: apis.chat.client_ids.ghost: unknown agent "ghost"',
    ]);
  });
});
