/**
 * Turns parsed policy files into the `Policy` the broker reads on every request.
 *
 * Pure (no file access), so tests can compile policies held in memory. The steps: validate
 * each file, check the rules that span files, then build the Maps and Sets once, so that
 * every lookup on the hot path is a Map access.
 *
 * @module policy/compile
 */

import { createHash } from "node:crypto";
import { crossCheck, type ValidFile } from "./cross-check.js";
import { parseDuration } from "./duration.js";
import { PolicyError } from "./policy-error.js";
import { salvagePolicyFile } from "./salvage.js";
import { BROKER_DEFAULTS, type PolicyFile } from "./schema.js";
import type {
  Agent,
  Api,
  BrokerSettings,
  Policy,
  RateLimit,
  RateLimits,
  Scope,
  TaskTemplate,
  TrustedIssuer,
} from "./types.js";
import { validatePolicyFile } from "./validate.js";

/** One policy file: its name (as it should appear in messages) and its parsed YAML. */
export interface PolicySource {
  readonly file: string;
  readonly data: unknown;
}

/**
 * Validates, cross-checks and compiles policy files, in the order given.
 *
 * @throws PolicyError listing every problem found.
 */
export function compilePolicy(sources: readonly PolicySource[]): Policy {
  const files = validateAll(sources);
  const problems = crossCheck(files);
  if (problems.length > 0) throw new PolicyError(problems);
  return { ...build(files), version: policyVersion(sources) };
}

/**
 * The version of a policy: a hash of its files' names and parsed contents, so the same
 * policy on every node has the same version, and any change of meaning makes a new one.
 */
export function policyVersion(sources: readonly PolicySource[]): string {
  const hash = createHash("sha256");
  for (const { file, data } of [...sources].sort((a, b) => (a.file < b.file ? -1 : 1))) {
    hash.update(JSON.stringify([file, data]));
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * Validates every file. Problems are reported all at once (issue 17): the cross-file checks
 * also run on what did parse of the invalid files (policy/salvage.ts), and their findings
 * join the shape problems.
 */
function validateAll(sources: readonly PolicySource[]): ValidFile[] {
  const files: ValidFile[] = [];
  const salvaged: ValidFile[] = [];
  const problems: string[] = [];
  for (const { file, data } of sources) {
    const result = validatePolicyFile(file, data);
    if (result.ok) {
      files.push({ file, data: result.value });
      salvaged.push({ file, data: result.value });
      continue;
    }
    problems.push(...result.issues);
    const rest = salvagePolicyFile(data);
    if (rest) salvaged.push({ file, data: rest });
  }
  if (problems.length > 0) {
    const more = crossCheck(salvaged).filter((line) => !problems.includes(line));
    throw new PolicyError([...problems, ...more]);
  }
  return files;
}

type IssuerEntry = NonNullable<PolicyFile["issuers"]>[number];
type ApiEntry = NonNullable<PolicyFile["apis"]>[string];
type AgentEntry = NonNullable<PolicyFile["agents"]>[string];
type TaskEntry = NonNullable<PolicyFile["tasks"]>[string];

function build(files: readonly ValidFile[]): Omit<Policy, "version"> {
  const issuers = new Map<string, TrustedIssuer>();
  const apis = new Map<string, Api>();
  const apisByResource = new Map<string, Api>();
  const scopes = new Map<string, Scope>();
  const agents = new Map<string, Agent>();
  const tasks = new Map<string, TaskTemplate>();
  const approvers = new Map<string, ReadonlySet<string>>();

  for (const { data } of files) {
    for (const entry of data.issuers ?? []) issuers.set(entry.issuer, toIssuer(entry));
    for (const [id, entry] of Object.entries(data.apis ?? {})) {
      const api = toApi(id, entry);
      apis.set(id, api);
      apisByResource.set(api.resource, api);
      for (const [name, scope] of api.scopes) scopes.set(name, scope);
    }
    for (const [id, entry] of Object.entries(data.agents ?? {})) agents.set(id, toAgent(id, entry));
    for (const [id, entry] of Object.entries(data.tasks ?? {})) tasks.set(id, toTask(id, entry));
    for (const [id, members] of Object.entries(data.approvers ?? {}))
      approvers.set(id, new Set(members));
  }

  const broker = files.find((f) => f.data.broker)?.data.broker ?? BROKER_DEFAULTS;
  return {
    broker: toBroker(broker),
    issuers,
    apis,
    apisByResource,
    scopes,
    agents,
    tasks,
    approvers,
    files: files.map((f) => f.file),
  };
}

function toBroker(
  entry: NonNullable<PolicyFile["broker"]> | typeof BROKER_DEFAULTS,
): BrokerSettings {
  return {
    signingAlg: entry.signing_alg,
    defaultTtl: parseDuration(entry.default_ttl),
    maxTtl: parseDuration(entry.max_ttl),
    maxDepth: entry.max_depth,
    clockSkew: parseDuration(entry.clock_skew),
    devIssuer: entry.dev_issuer,
    maxTaskTtl: parseDuration(entry.max_task_ttl),
    maxTaskTokens: entry.max_task_tokens,
    approvalTtl: parseDuration(entry.approval_ttl),
    maxOpenApprovals: entry.max_open_approvals,
    ...("approval_webhook" in entry && entry.approval_webhook !== undefined
      ? { approvalWebhook: entry.approval_webhook }
      : {}),
    ...("rate_limit" in entry && entry.rate_limit !== undefined
      ? { rateLimit: toRateLimits(entry.rate_limit) }
      : {}),
    ...("approval_login" in entry && entry.approval_login !== undefined
      ? {
          approvalLogin: {
            issuer: entry.approval_login.issuer,
            clientId: entry.approval_login.client_id,
            claim: entry.approval_login.claim,
          },
        }
      : {}),
  };
}

type RateLimitsEntry = NonNullable<NonNullable<PolicyFile["broker"]>["rate_limit"]>;

function toRateLimits(entry: RateLimitsEntry): RateLimits {
  return {
    ...(entry.per_agent !== undefined && { perAgent: parseRate(entry.per_agent) }),
    ...(entry.per_subject !== undefined && { perSubject: parseRate(entry.per_subject) }),
    ...(entry.client_auth_failures !== undefined && {
      clientAuthFailures: parseRate(entry.client_auth_failures),
    }),
  };
}

/** `600/1m` → 600 requests per 60 s. The schema (RATE_PATTERN) has checked the text. */
function parseRate(text: string): RateLimit {
  const [requests = "", window = ""] = text.split("/");
  return { requests: Number(requests), windowSeconds: parseDuration(window) };
}

function toIssuer(entry: IssuerEntry): TrustedIssuer {
  return {
    issuer: entry.issuer,
    ...(entry.jwks_uri !== undefined && { jwksUri: entry.jwks_uri }),
    ...(entry.jwks !== undefined && { jwks: entry.jwks }),
    audience: entry.audience,
    algorithms: entry.algorithms,
    scopesBound: entry.scopes_bound,
    maxTokenLifetime: parseDuration(entry.max_token_lifetime),
    idJag: entry.id_jag,
  };
}

function toApi(id: string, entry: ApiEntry): Api {
  const scopes = new Map<string, Scope>();
  for (const [name, value] of Object.entries(entry.scopes)) {
    // Short form `name: description`, long form `{description, approval}`.
    const long = typeof value === "string" ? { description: value } : value;
    scopes.set(name, {
      name,
      api: id,
      description: long.description,
      ...(long.approval !== undefined && { approval: long.approval }),
    });
  }
  return {
    id,
    resource: entry.resource,
    description: entry.description,
    ...(entry.max_ttl !== undefined && { maxTtl: parseDuration(entry.max_ttl) }),
    defaultScopes: entry.default_scopes,
    scopes,
    ...(entry.authorization_server !== undefined && {
      authorizationServer: entry.authorization_server,
    }),
    ...(entry.client_ids !== undefined && {
      clientIds: new Map(Object.entries(entry.client_ids)),
    }),
  };
}

function toAgent(id: string, entry: AgentEntry): Agent {
  return {
    id,
    description: entry.description,
    ...(entry.secret_sha256 !== undefined && { secretSha256: entry.secret_sha256 }),
    ...(entry.jwks !== undefined && { jwks: entry.jwks }),
    scopes: new Set(entry.scopes),
    delegateTo: new Set(entry.delegate_to),
    impersonate: entry.impersonate,
    disabled: entry.disabled,
    delegatedOnly: entry.delegated_only,
    ...(entry.rate_limit !== undefined && { rateLimit: parseRate(entry.rate_limit) }),
    introspects: new Set(entry.introspects),
  };
}

function toTask(id: string, entry: TaskEntry): TaskTemplate {
  return {
    id,
    description: entry.description,
    ceiling: entry.ceiling,
    ...(entry.max_ttl !== undefined && { maxTtl: parseDuration(entry.max_ttl) }),
    ...(entry.max_tokens !== undefined && { maxTokens: entry.max_tokens }),
    ...(entry.approval !== undefined && { approval: entry.approval }),
  };
}
