/**
 * The shape of ONE policy file (design §3.3), as a zod schema.
 *
 * Every object is strict: a misspelt key is an error, never a silently ignored setting. Every
 * field carries a `.describe()` text because `policies/policy.schema.json` is generated from
 * this schema and editors show that text on hover. Cross-file rules (ids defined twice,
 * references to scopes and agents) live in cross-check.ts; this file only knows one file.
 *
 * @module policy/schema
 */

import { z } from "zod";
import { DURATION_PATTERN, isDuration, parseDuration } from "./duration.js";

/** API, agent, task template and approver group ids (one namespace, design §3.3). */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Scope names: the `scope` claim is space-separated (RFC 6749 §3.3), so no spaces here. */
export const SCOPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;
/**
 * A rate limit: `REQUESTS/DURATION`, e.g. `600/1m`. The count is a positive whole number (no
 * sign, no leading zero); the window is a policy duration (duration.ts), so it is whole seconds.
 */
export const RATE_PATTERN = /^[1-9][0-9]{0,6}\/[1-9][0-9]{0,5}[smh]$/;
/** Asymmetric JWS algorithms only: `none` and HMAC (a shared secret) are never accepted. */
export const JWS_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
/** JWK members that hold private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4). */
export const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** What applies when no file has a `broker` section. */
export const BROKER_DEFAULTS = {
  signing_alg: "EdDSA",
  default_ttl: "5m",
  max_ttl: "1h",
  max_depth: 3,
  dev_issuer: false,
  max_task_ttl: "8h",
  max_task_tokens: 1000,
  approval_ttl: "10m",
  max_open_approvals: 10,
  clock_skew: "30s",
} as const;

/** A strict object whose unknown-key message lists the keys that are allowed. */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === "unrecognized_keys" ? `unknown key; expected one of: ${allowed}` : undefined,
  });
}

/** A list whose entries must be distinct: a repeat is almost always a copy-paste slip. */
function uniqueList<T extends z.ZodType<string>>(item: T) {
  return z.array(item).superRefine((list: readonly string[], ctx) => {
    list.forEach((value, i) => {
      if (list.indexOf(value) !== i) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `${JSON.stringify(value)} is listed twice`,
        });
      }
    });
  });
}

const Id = z
  .string()
  .regex(
    ID_PATTERN,
    "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a-z or 0-9",
  );
const ScopeName = z
  .string()
  .regex(
    SCOPE_PATTERN,
    "must be 1-128 characters of A-Z, a-z, 0-9, ':', '.', '_' or '-', no spaces",
  );
const Duration = z
  .string()
  .regex(DURATION_PATTERN, "must be a duration: a whole number and s, m or h (e.g. 30s, 5m, 1h)");
const RATE_MESSAGE =
  "expected REQUESTS/DURATION, such as 600/1m: a whole number of requests per 30s, 5m or 1h";
// A bare `600` is a YAML number, not a string: it gets the same message, not a type error.
const Rate = z.string({ error: RATE_MESSAGE }).regex(RATE_PATTERN, RATE_MESSAGE);
const Approval = Id.describe(
  "Who approves: `subject` (the user the agent works for) or the id of a group under `approvers`.",
);

const isAbsoluteUrl = (text: string) => URL.canParse(text);
const isLoopback = (host: string) => ["localhost", "127.0.0.1", "[::1]"].includes(host);
/** Keys fetched over plain http could be swapped in transit: https, except on this machine. */
const isSafeKeyUrl = (text: string) => {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
};

/** A URL field that keys or notifications are fetched from or sent to: see isSafeKeyUrl. */
const safeUrl = () =>
  z.string().refine(isSafeKeyUrl, "must be an https URL (http only on localhost)");
/** An identifier that must be an absolute URL (or URI, as the RFC names it). */
const absoluteUrl = (word: "URL" | "URI") =>
  z.string().refine(isAbsoluteUrl, `must be an absolute ${word}`);

const privateMember = (name: string) =>
  z
    .never({
      error: `private key member "${name}" must not appear in policy: publish the public key only`,
    })
    .optional()
    .describe(`Private key material: never allowed here.`);

const Jwk = z
  .looseObject({
    kty: z
      .enum(["RSA", "EC", "OKP"], { error: "kty must be RSA, EC or OKP (a public asymmetric key)" })
      .describe("Key type. Only public asymmetric keys belong in policy."),
    kid: z.string().min(1).optional().describe("Key id; recommended, so tokens can name the key."),
    d: privateMember("d"),
    p: privateMember("p"),
    q: privateMember("q"),
    dp: privateMember("dp"),
    dq: privateMember("dq"),
    qi: privateMember("qi"),
    oth: privateMember("oth"),
    k: privateMember("k"),
  })
  .describe(
    "A public JSON Web Key (RFC 7517). Private members (d, p, q, dp, dq, qi, oth, k) are refused.",
  );

const Jwks = strict({
  keys: z.array(Jwk).min(1, "needs at least one key").describe("The public keys."),
}).describe("A JWK Set (RFC 7517 §5) of public keys, inline.");

const ApprovalLogin = strict({
  issuer: safeUrl().describe(
    "The OpenID Provider approvers sign in with (OpenID Connect discovery at <issuer>/.well-known/openid-configuration).",
  ),
  client_id: z
    .string()
    .min(1, "must not be empty")
    .max(256, "must be at most 256 characters")
    .describe(
      "Baton's client id at that provider, registered with the redirect URI <broker issuer>/approvals/login/callback. Its secret, if any, is BATON_APPROVAL_LOGIN_SECRET, never in policy.",
    ),
  claim: z
    .enum(["sub", "email"])
    .default("sub")
    .describe(
      "The ID token claim that names the person, as approval requests and approver groups name them: sub (default), or email (then email_verified must be true).",
    ),
}).describe(
  "Approvers sign in to /approvals with an OpenID Provider (authorization code flow with PKCE).",
);

const RateLimits = strict({
  per_agent: Rate.optional().describe(
    "Most exchange attempts (and task starts) by one agent per window, across all nodes, e.g. 600/1m. An agent's own rate_limit overrides it.",
  ),
  per_subject: Rate.optional().describe(
    "Most exchange attempts (and task starts) on behalf of one subject (`sub`) per window, whatever the agent, across all nodes, e.g. 300/1m.",
  ),
  client_auth_failures: Rate.optional().describe(
    "Most failed client authentications for one client id per window, across all nodes, e.g. 20/1m. Past it, every authentication as that client is refused until the window ends, the right credentials included: guessing a secret stops paying.",
  ),
}).describe(
  "Shared rate limits (fixed windows, counted in the store): past one, 429 slow_down with Retry-After. Absent: no limit.",
);

const Broker = strict({
  signing_alg: z
    .enum(["EdDSA", "ES256"])
    .default(BROKER_DEFAULTS.signing_alg)
    .describe(
      "Algorithm of the tokens the broker signs. EdDSA (Ed25519) unless an API needs ES256.",
    ),
  default_ttl: Duration.default(BROKER_DEFAULTS.default_ttl).describe(
    "Token lifetime when a request names none. Keep it short: 5m is recommended.",
  ),
  max_ttl: Duration.default(BROKER_DEFAULTS.max_ttl).describe(
    "Hard cap on the lifetime of every issued token. 1h or less is recommended.",
  ),
  max_depth: z
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(10, "must be at most 10")
    .default(BROKER_DEFAULTS.max_depth)
    .describe("Most agents in one `act` delegation chain (1-10). 3 is recommended."),
  clock_skew: Duration.refine(
    (text) => !isDuration(text) || parseDuration(text) <= 300,
    "must be at most 5m",
  )
    .default(BROKER_DEFAULTS.clock_skew)
    .describe(
      "Tolerance for the iat, nbf and exp of every token presented (subject, actor, client assertion). 30s is the default; at most 5m.",
    ),
  dev_issuer: z
    .boolean()
    .default(BROKER_DEFAULTS.dev_issuer)
    .describe(
      "Enables `baton dev-token` and accepts its subject tokens. Development only: false in production.",
    ),
  max_task_ttl: Duration.default(BROKER_DEFAULTS.max_task_ttl).describe(
    "Longest a task may run (its deadline), whatever a template or request asks. 8h is the default.",
  ),
  max_task_tokens: z
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(1_000_000, "must be at most 1000000")
    .default(BROKER_DEFAULTS.max_task_tokens)
    .describe(
      "Most tokens one task may issue across its whole tree: the budget cap. 1000 is the default.",
    ),
  approval_ttl: Duration.default(BROKER_DEFAULTS.approval_ttl).describe(
    "How long a human has to decide an approval request before it expires. 10m is the default.",
  ),
  max_open_approvals: z
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(1000, "must be at most 1000")
    .default(BROKER_DEFAULTS.max_open_approvals)
    .describe(
      "Most approval requests of one agent pending at once (decided or expired ones free their slot); past it, 429 slow_down. Keeps an agent from flooding approvers.",
    ),
  approval_webhook: safeUrl()
    .optional()
    .describe(
      "Called with a JSON POST (no tokens) on each new approval request, e.g. to notify approvers.",
    ),
  rate_limit: RateLimits.optional(),
  approval_login: ApprovalLogin.optional(),
}).describe("Broker settings. At most one file may hold this section.");

const Issuer = strict({
  issuer: absoluteUrl("URL").describe(
    "The exact `iss` value of the identity provider's tokens, e.g. https://idp.example.com.",
  ),
  jwks_uri: safeUrl()
    .optional()
    .describe("Where the provider publishes its public keys. Give this or `jwks`, not both."),
  jwks: Jwks.optional().describe(
    "The provider's public keys, inline. Give this or `jwks_uri`, not both.",
  ),
  audience: z
    .string()
    .min(1, "must not be empty")
    .describe(
      "The `aud` a subject token must carry to be accepted here: usually the broker's URL.",
    ),
  algorithms: uniqueList(
    z.enum(JWS_ALGORITHMS, {
      error: `must be one of ${JWS_ALGORITHMS.join(", ")}: never none or HMAC`,
    }),
  )
    .min(1, "needs at least one algorithm")
    .describe(
      "JWS algorithms accepted from this issuer: asymmetric only, e.g. [RS256] or [ES256].",
    ),
  scopes_bound: z
    .boolean()
    .default(false)
    .describe("When true, the subject token's own `scope` claim also bounds what it can yield."),
  max_token_lifetime: Duration.default("24h").describe(
    "Longest lifetime a subject token from this issuer may claim: one without `iat`, or whose `exp` lies further ahead than this, is refused. 24h is the default.",
  ),
  id_jag: z
    .boolean()
    .default(false)
    .describe(
      "When true, this issuer's ID-JAGs (typ oauth-id-jag+jwt, aud this broker) are accepted with the JWT bearer grant (draft-ietf-oauth-identity-assertion-authz-grant).",
    ),
})
  .superRefine((issuer, ctx) => {
    if ((issuer.jwks_uri === undefined) === (issuer.jwks === undefined)) {
      ctx.addIssue({ code: "custom", message: "needs exactly one of jwks_uri and jwks" });
    }
  })
  .describe("An outside identity provider whose tokens may be subject tokens.");

const Scope = z
  .union(
    [
      z.string().min(1, "must not be empty").describe("Short form: the description."),
      strict({
        description: z
          .string()
          .min(1, "must not be empty")
          .describe("What the scope allows, in words an approver understands."),
        approval: Approval.optional(),
      }),
    ],
    { error: "must be a description, or a mapping with description and approval" },
  )
  .describe("A scope: its description, or {description, approval} for an elevated scope.");

const Api = strict({
  resource: absoluteUrl("URI")
    .refine((text) => !text.includes("#"), "must not contain a fragment (RFC 8707 §2)")
    .describe("The API's exact `resource` URI (RFC 8707): the `aud` of the tokens issued for it."),
  description: z.string().default("").describe("What the API is; shown to agents by list_apis."),
  max_ttl: Duration.optional().describe(
    "Cap on token lifetime for this API, at most broker.max_ttl. Shorter for powerful APIs.",
  ),
  default_scopes: uniqueList(ScopeName)
    .default([])
    .describe("Scopes granted when a request names none. Keep it read-only, or empty."),
  scopes: z
    .record(ScopeName, Scope)
    .refine((scopes) => Object.keys(scopes).length > 0, "an API needs at least one scope")
    .describe("Scope name → description. Scope names are unique across all APIs."),
  authorization_server: absoluteUrl("URL")
    .optional()
    .describe(
      "The issuer of the API's own authorization server: Baton issues ID-JAGs for it (audience = this issuer), never access tokens.",
    ),
  client_ids: z
    .record(
      Id,
      z
        .string()
        .min(1, "must not be empty")
        .max(255, "must be at most 255 characters")
        .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
    )
    .optional()
    .describe(
      "Agent id → that agent's client_id at the authorization server (the ID-JAG's client_id). An agent not listed gets no ID-JAG for this API.",
    ),
})
  .superRefine((api, ctx) => {
    if ((api.authorization_server === undefined) !== (api.client_ids === undefined)) {
      ctx.addIssue({
        code: "custom",
        message: "authorization_server and client_ids go together: ID-JAGs need both",
      });
    }
  })
  .describe("A downstream API that agents get tokens for.");

const Agent = strict({
  description: z.string().default("").describe("What the agent does; shown to approvers."),
  secret_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters: the SHA-256 of the secret")
    .optional()
    .describe(
      "Lower-case hex SHA-256 of the client secret (never the secret). Secrets: >= 128 random bits.",
    ),
  jwks: Jwks.optional().describe(
    "Public keys for private_key_jwt client authentication (RFC 7523).",
  ),
  scopes: uniqueList(ScopeName)
    .default([])
    .describe("Every scope this agent may ever hold. Grant the least it needs."),
  delegate_to: uniqueList(Id)
    .default([])
    .describe("Agents this agent may hand work to (delegation tokens name one of them)."),
  impersonate: z
    .boolean()
    .default(false)
    .describe("Allows tokens without `act` (RFC 8693 impersonation). Keep false."),
  disabled: z
    .boolean()
    .default(false)
    .describe("A disabled agent authenticates but may not exchange. Use it to cut an agent off."),
  delegated_only: z
    .boolean()
    .default(false)
    .describe(
      "The agent may act only on a delegation token naming it (may_act), never on its user's own token: a sub-agent that cannot slip its delegator's leash.",
    ),
  rate_limit: Rate.optional().describe(
    "Most exchange attempts (and task starts) by this agent per window, e.g. 1200/1m: overrides broker.rate_limit.per_agent.",
  ),
  introspects: uniqueList(Id)
    .default([])
    .describe(
      "APIs this client introspects tokens for (RFC 7662 §4): it sees the claims of tokens whose aud is one of them. Give it to an API's own client.",
    ),
})
  .superRefine((agent, ctx) => {
    if (agent.secret_sha256 === undefined && agent.jwks === undefined) {
      ctx.addIssue({
        code: "custom",
        message: "needs a credential: secret_sha256 or jwks (or both)",
      });
    }
  })
  .describe("A registered OAuth client that acts for a subject.");

const Task = strict({
  description: z.string().default("").describe("The purpose of tasks opened from this template."),
  ceiling: uniqueList(ScopeName)
    .min(1, "needs at least one scope")
    .describe("The most any token of the task may carry."),
  max_ttl: Duration.optional().describe("How long a task lives (its deadline), e.g. 30m."),
  max_tokens: z
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(1_000_000, "must be at most 1000000")
    .optional()
    .describe("Most tokens issued inside one task: a budget against runaway agents."),
  approval: Approval.optional().describe(
    "Approve the whole ceiling once when the task opens: `subject` or an approver group id.",
  ),
}).describe("A task template: a named scope ceiling with a deadline and a token budget.");

export const PolicyFileSchema = strict({
  broker: Broker.optional(),
  issuers: z
    .array(Issuer)
    .optional()
    .describe("Identity providers whose tokens are accepted as subject tokens."),
  apis: z
    .record(Id, Api)
    .optional()
    .describe("API id → API. Ids are shared with agents, tasks and approver groups."),
  agents: z.record(Id, Agent).optional().describe("Agent id (its OAuth client_id) → agent."),
  tasks: z.record(Id, Task).optional().describe("Task template id → template."),
  approvers: z
    .record(
      Id,
      uniqueList(z.string().min(1, "must not be empty"))
        .min(1, "needs at least one member")
        .describe("Subject identifiers (the `sub` of their tokens) who may approve."),
    )
    .optional()
    .describe("Approver group id → members."),
}).describe("A Baton policy file. All *.yaml files of a policies directory are merged.");

/** One policy file, as validated (defaults applied, durations still text). */
export type PolicyFile = z.output<typeof PolicyFileSchema>;
