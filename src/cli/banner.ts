/**
 * What `baton serve` prints when it is ready: the URLs, and a block that tries an exchange and
 * runs as pasted, on any port (issue 17): the dev token is minted for this server's issuer,
 * policies and store, and the client secret is filled in only when it is a published demo
 * secret. It never shows a token, a store password or any other secret (rule 9).
 *
 * @module cli/banner
 */

import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { Agent, Policy } from "../policy/types.js";
import { redactedStoreUrl } from "../store/store-url.js";
import { PATHS } from "../urls.js";
import { counted } from "./policy-check.js";

export interface BannerOptions {
  readonly issuer: string;
  readonly policy: Policy;
  /** `--policies` as the server has it (relative to its working directory). */
  readonly policiesDir: string;
  /** `--store` as given: it may carry credentials, which are never printed. */
  readonly storeUrl: string;
  /** `--audit`: a file, or `stderr`. */
  readonly auditPath: string;
  /** The audit path is the default one, which `baton audit` finds without `--audit`. */
  readonly auditIsDefault?: boolean;
  readonly keysSealed?: boolean;
}

/**
 * The secrets the demo policy publishes in its comments (policies/agents.yaml). A secret is
 * printed only when an agent's stored hash is the hash of one of these: anyone can read them
 * already, and the banner says to replace them.
 */
const DEMO_SECRETS = [
  "orchestrator-secret",
  "flight-booker-secret",
  "calendar-api-secret",
  "flights-api-secret",
];

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const DEMO_BY_HASH = new Map(DEMO_SECRETS.map((secret) => [sha256(secret), secret]));

/** The published demo secret whose hash the agent stores, if it is one. */
export const demoSecretOf = (agent: Agent): string | undefined =>
  agent.secretSha256 === undefined ? undefined : DEMO_BY_HASH.get(agent.secretSha256.toLowerCase());

export function serveBanner(options: BannerOptions): string {
  const { issuer, policy, storeUrl, keysSealed } = options;
  const url = (path: string) => `${issuer}${path}`;
  const lines = [
    `Baton is serving on ${issuer}`,
    "",
    `  metadata       ${url(PATHS.metadata)}`,
    `  jwks           ${url(PATHS.jwks)}`,
    `  token          POST ${url(PATHS.token)}`,
    `  introspection  POST ${url(PATHS.introspect)}`,
    `  revocation     POST ${url(PATHS.revoke)}`,
    `  mcp            ${url(PATHS.mcp)}  (Streamable HTTP, for MCP clients)`,
    `  approvals      ${url(PATHS.approvals)}  (where a human approves elevated grants)`,
    "",
    `  policies       ${options.policiesDir} (${counted(policy.apis.size, "API")}, ${counted(policy.agents.size, "agent")})`,
    `  store          ${redactedStoreUrl(storeUrl)}`,
    `  signing keys   ${keysSealed ? "sealed with the key secret" : "not encrypted at rest (set BATON_KEY_SECRET to seal them)"}`,
  ];
  const example = tryItExample(options);
  if (example) {
    lines.push("", "Try an exchange (in another terminal, from this directory):", "", ...example);
  }
  lines.push("", ...whyRefused(options));
  return `${lines.join("\n")}\n`;
}

/** A dev-token + curl block for an agent that acts on a user's own token, non-elevated scope. */
function tryItExample(options: BannerOptions): string[] | undefined {
  const { issuer, policy } = options;
  if (!policy.broker.devIssuer) return undefined;
  const choice = pickAgent(policy);
  if (!choice) return undefined;
  if (options.storeUrl === "memory://") {
    // Another process cannot read this one's memory: its dev token would be signed by other keys.
    return ["  # memory:// store: baton dev-token from another process cannot mint for it."];
  }
  const { agent, scope, api } = choice;
  const demo = demoSecretOf(agent);
  // Double quotes, so the shell expands the variable the note asks to set.
  const user =
    demo === undefined
      ? `${shellWord(`${agent.id}:`)}"$CLIENT_SECRET"`
      : shellWord(`${agent.id}:${demo}`);
  const credentials = redactedStoreUrl(options.storeUrl) !== options.storeUrl;
  const devToken = [
    "npx baton dev-token --user alice@example.com",
    `--issuer ${shellWord(issuer)}`,
    `--policies ${shellWord(resolve(options.policiesDir))}`,
    ...(credentials ? [] : [`--store ${shellWord(absoluteStore(options.storeUrl))}`]),
    ...auditFlag(options),
  ].join(" ");
  return [
    `  SUBJECT=$(${devToken})`,
    `  curl -s -u ${user} ${shellWord(`${issuer}${PATHS.token}`)} \\`,
    "    -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\",
    '    -d subject_token="$SUBJECT" \\',
    "    -d subject_token_type=urn:ietf:params:oauth:token-type:jwt \\",
    `    -d audience=${shellWord(api)} -d scope=${shellWord(scope)}`,
    "",
    demo === undefined
      ? `  # First set CLIENT_SECRET to ${agent.id}'s client secret.`
      : `  # ${demo} is the demo secret published in policies/agents.yaml: replace it before real use.`,
    ...(credentials
      ? ["  # The store URL has credentials: add the same --store as this server's to dev-token."]
      : []),
  ];
}

/**
 * The first agent that can act on a user's own token, with a scope no human must approve.
 * One with a published demo secret first, so that the block runs as pasted.
 */
function pickAgent(policy: Policy) {
  const choices = [];
  for (const agent of policy.agents.values()) {
    if (!agent.secretSha256 || agent.disabled || agent.delegatedOnly) continue;
    const scope = [...agent.scopes].find((s) => policy.scopes.get(s)?.approval === undefined);
    const api = scope === undefined ? undefined : policy.scopes.get(scope)?.api;
    if (scope !== undefined && api !== undefined) choices.push({ agent, scope, api });
  }
  return choices.find((c) => demoSecretOf(c.agent) !== undefined) ?? choices[0];
}

/** `sqlite://` paths made absolute, so the command works from any directory. */
function absoluteStore(url: string): string {
  if (!url.startsWith("sqlite://")) return url;
  return `sqlite://${resolve(url.slice("sqlite://".length))}`;
}

/** `--audit` when the server's log is a file other than the default. */
function auditFlag({ auditPath, auditIsDefault }: BannerOptions): string[] {
  if (auditPath === "stderr" || auditIsDefault) return [];
  return [`--audit ${shellWord(resolve(auditPath))}`];
}

function whyRefused(options: BannerOptions): string[] {
  if (options.auditPath === "stderr") {
    return ["Why a request was refused: the exchange.denied lines this server logs to stderr."];
  }
  const audit = ["npx baton audit --denied", ...auditFlag(options)].join(" ");
  return [`Why a request was refused:  ${audit}`];
}

/** A word as the shell reads it back unchanged: as is when plain, single-quoted otherwise. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
