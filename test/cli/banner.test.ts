/**
 * The `serve` banner (issue 17): its try-it block mints for this server and fills in a client
 * secret only when it is a published demo secret; it never shows a store password or any other
 * secret (rule 9). Fixture policies of its own, written to a temp dir.
 */

import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BannerOptions, serveBanner, shellWord } from "../../src/cli/banner.js";
import { loadPolicy } from "../../src/policy/load.js";
import type { Policy } from "../../src/policy/types.js";
import { redactedStoreUrl } from "../../src/store/store-url.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const ISSUER = "http://127.0.0.1:8790";

const BROKER = `broker:
  signing_alg: EdDSA
  default_ttl: 5m
  max_ttl: 1h
  max_depth: 3
  dev_issuer: true
`;
const APIS = `apis:
  calendar:
    resource: https://calendar.example.com
    description: Calendar
    scopes:
      calendar.write: { description: Change events, approval: subject }
      calendar.read: Read events
`;
const agents = (secret: string) => `agents:
  orchestrator:
    description: Plans trips
    secret_sha256: ${sha256(secret)}
    scopes: [calendar.write, calendar.read]
`;

const dirs: string[] = [];
let demo: Policy;
let custom: Policy;

async function policyWith(secret: string): Promise<Policy> {
  const dir = await mkdtemp(join(tmpdir(), "baton-banner-"));
  dirs.push(dir);
  await writeFile(join(dir, "broker.yaml"), BROKER);
  await writeFile(join(dir, "apis.yaml"), APIS);
  await writeFile(join(dir, "agents.yaml"), agents(secret));
  return loadPolicy(dir);
}

beforeAll(async () => {
  demo = await policyWith("orchestrator-secret");
  custom = await policyWith("a-real-secret-nobody-published");
});
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const banner = (policy: Policy, extra: Partial<BannerOptions> = {}) =>
  serveBanner({
    issuer: ISSUER,
    policy,
    policiesDir: "/srv/baton/policies",
    storeUrl: "sqlite:///srv/baton/data/baton.db",
    auditPath: "data/audit.jsonl",
    auditIsDefault: true,
    ...extra,
  });

describe("serve banner: the try-it block", () => {
  it("fills in the demo secret only when the agent's hash is a published demo secret's", () => {
    const text = banner(demo);
    expect(text).toContain(`curl -s -u orchestrator:orchestrator-secret ${ISSUER}/token`);
    expect(text).toContain("orchestrator-secret is the demo secret published");
    expect(text).not.toContain("$CLIENT_SECRET");
  });

  it("a policy with any other secret gets $CLIENT_SECRET and a line saying to set it", () => {
    const text = banner(custom);
    expect(text).toContain('curl -s -u orchestrator:"$CLIENT_SECRET"');
    expect(text).toContain("# First set CLIENT_SECRET to orchestrator's client secret.");
    expect(text).not.toContain("a-real-secret");
    expect(text).not.toContain("orchestrator-secret");
  });

  it("mints for this server: --issuer, --policies and --store as it has them; a non-elevated scope", () => {
    const text = banner(demo);
    expect(text).toContain(
      `SUBJECT=$(npx baton dev-token --user alice@example.com --issuer ${ISSUER} --policies /srv/baton/policies --store sqlite:///srv/baton/data/baton.db)`,
    );
    expect(text).toContain("-d audience=calendar -d scope=calendar.read");
  });

  it("relative paths are made absolute; a non-default audit file is passed along", () => {
    const text = banner(demo, {
      policiesDir: "pol",
      storeUrl: "sqlite://d/b.db",
      auditPath: "logs/a.jsonl",
      auditIsDefault: false,
    });
    expect(text).toContain(`--policies ${join(process.cwd(), "pol")}`);
    expect(text).toContain(`--store sqlite://${join(process.cwd(), "d/b.db")}`);
    expect(text).toContain(
      `npx baton audit --denied --audit ${join(process.cwd(), "logs/a.jsonl")}`,
    );
  });

  it("prints the /mcp, /approvals and metadata URLs, and where to read why a request failed", () => {
    const text = banner(demo);
    expect(text).toContain(`${ISSUER}/mcp`);
    expect(text).toContain(`${ISSUER}/approvals`);
    expect(text).toContain(`${ISSUER}/.well-known/oauth-authorization-server`);
    expect(text).toMatch(/Why a request was refused: +npx baton audit --denied\n/);
  });

  it("paths with spaces or quotes are quoted for the shell", () => {
    expect(shellWord("/a b/it's")).toBe(`'/a b/it'\\''s'`);
    expect(shellWord("sqlite:///srv/x.db")).toBe("sqlite:///srv/x.db");
  });
});

describe("serve banner: the store URL", () => {
  it("a Redis URL with a password never appears: dev-token is told to take the same --store", () => {
    const text = banner(demo, { storeUrl: "redis://baton:hunter2@redis.internal:6380/2" });
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("baton:");
    expect(text).toContain("store          redis://redis.internal:6380/2");
    expect(text).not.toContain("--store redis");
    expect(text).toContain("add the same --store as this server's to dev-token");
    // Without a key secret, the operator is told the keys are stored in the clear.
    expect(text).toContain(
      "signing keys   not encrypted at rest (set BATON_KEY_SECRET to seal them)",
    );
  });

  it("URLs without credentials are shown as given; unparsable ones not at all", () => {
    expect(redactedStoreUrl("sqlite://data/baton.db")).toBe("sqlite://data/baton.db");
    expect(redactedStoreUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactedStoreUrl("rediss://:s3cret@host:6380")).toBe("rediss://host:6380");
    expect(redactedStoreUrl("redis://:s3cret@[bad")).toBe("the store URL");
  });
});
