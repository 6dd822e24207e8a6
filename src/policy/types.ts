/**
 * The compiled policy: what the broker reads on every request.
 *
 * Built once from the YAML files by `loadPolicy` (policy/load.ts), indexed so that every lookup
 * on the hot path is a Map access (issue 2, item 9). Durations are in seconds.
 *
 * @module policy/types
 */

export type SigningAlg = "EdDSA" | "ES256";

/** A JSON Web Key, as found in policy files (public members only). */
export type PublicJwk = Readonly<Record<string, unknown>> & { kty: string };

/** At most `requests` attempts per fixed window of `windowSeconds` (policy `600/1m`). */
export interface RateLimit {
  readonly requests: number;
  readonly windowSeconds: number;
}

/** The approval page's sign-in with an OpenID Provider (policy `broker.approval_login`). */
export interface ApprovalLogin {
  readonly issuer: string;
  readonly clientId: string;
  /** The ID token claim that names the person. */
  readonly claim: "sub" | "email";
}

/** The broker-wide rate limits; an absent one means no limit. */
export interface RateLimits {
  /** Per agent (an agent's own `rateLimit` overrides it). */
  readonly perAgent?: RateLimit;
  /** Per subject (`sub`), whatever agent acts for it. */
  readonly perSubject?: RateLimit;
  /** Failed client authentications per client id (HTTP endpoints). */
  readonly clientAuthFailures?: RateLimit;
}

export interface BrokerSettings {
  readonly signingAlg: SigningAlg;
  /** Lifetime when a request names none (seconds). */
  readonly defaultTtl: number;
  /** Hard cap for every issued token (seconds). */
  readonly maxTtl: number;
  /** Most agents in one `act` chain. */
  readonly maxDepth: number;
  /** Tolerance for `iat`, `nbf` and `exp` of every token presented to the broker (seconds). */
  readonly clockSkew: number;
  /** Whether `baton dev-token` and its tokens are accepted. Development only. */
  readonly devIssuer: boolean;
  /** Longest a task may run (seconds). */
  readonly maxTaskTtl: number;
  /** Most tokens one task may issue, across its whole tree. */
  readonly maxTaskTokens: number;
  /** How long an approval request waits for a human (seconds). */
  readonly approvalTtl: number;
  /** Most approval requests one agent may open per `approvalTtl`. */
  readonly maxOpenApprovals: number;
  /** Notified (JSON POST, no tokens) of each new approval request. */
  readonly approvalWebhook?: string;
  /** Shared by every node through the store; absent means no limit. */
  readonly rateLimit?: RateLimits;
  /** Approvers sign in to the approval page with this OpenID Provider. */
  readonly approvalLogin?: ApprovalLogin;
}

/** An outside identity provider whose tokens may be subject (or actor) tokens. */
export interface TrustedIssuer {
  readonly issuer: string;
  /** Exactly one of `jwksUri` and `jwks`. */
  readonly jwksUri?: string;
  readonly jwks?: { readonly keys: readonly PublicJwk[] };
  /** The `aud` a subject token must carry. */
  readonly audience: string;
  /** The JWS algorithms accepted from this issuer (never `none`, never HMAC). */
  readonly algorithms: readonly string[];
  /** When true, the subject token's own `scope` also bounds what it yields (rule 1). */
  readonly scopesBound: boolean;
  /** Longest `exp - now` a subject token may claim, and `iat` is required (seconds). */
  readonly maxTokenLifetime: number;
  /** Its ID-JAGs are accepted with the JWT bearer grant (draft-ietf-oauth-identity-assertion-authz-grant). */
  readonly idJag: boolean;
}

export interface Scope {
  readonly name: string;
  readonly api: string;
  readonly description: string;
  /** `subject` (the user approves) or an approvers group id; undefined when not elevated. */
  readonly approval?: string;
}

export interface Api {
  readonly id: string;
  /** The exact `resource` value and the issued `aud`. */
  readonly resource: string;
  readonly description: string;
  /** Seconds; undefined means only the broker's cap applies. */
  readonly maxTtl?: number;
  readonly defaultScopes: readonly string[];
  readonly scopes: ReadonlyMap<string, Scope>;
  /**
   * An API behind its own authorization server: Baton issues ID-JAGs for it (audience = this
   * issuer), never access tokens. Present together with `clientIds`.
   */
  readonly authorizationServer?: string;
  /** Agent id → its client_id at `authorizationServer` (the ID-JAG's `client_id`). */
  readonly clientIds?: ReadonlyMap<string, string>;
}

export interface Agent {
  readonly id: string;
  readonly description: string;
  /** Lower-case hex SHA-256 of the client secret (client_secret_basic / client_secret_post). */
  readonly secretSha256?: string;
  /** Public keys for private_key_jwt (RFC 7523) and for self-signed actor tokens. */
  readonly jwks?: { readonly keys: readonly PublicJwk[] };
  readonly scopes: ReadonlySet<string>;
  readonly delegateTo: ReadonlySet<string>;
  /** Tokens without `act` are allowed only for such an agent (RFC 8693 §1.1). */
  readonly impersonate: boolean;
  /** A disabled agent authenticates but may not exchange (`unauthorized_client`). */
  readonly disabled: boolean;
  /** Acts only on a delegation token naming it in `may_act`, never on a user's own token. */
  readonly delegatedOnly: boolean;
  /** Overrides the broker's `rateLimit.perAgent` for this agent. */
  readonly rateLimit?: RateLimit;
  /** API ids whose tokens this client may introspect in full (RFC 7662 §4). */
  readonly introspects: ReadonlySet<string>;
}

export interface TaskTemplate {
  readonly id: string;
  readonly description: string;
  readonly ceiling: readonly string[];
  readonly maxTtl?: number;
  readonly maxTokens?: number;
  readonly approval?: string;
}

export interface Policy {
  readonly broker: BrokerSettings;
  /** Keyed by the exact `iss` value. */
  readonly issuers: ReadonlyMap<string, TrustedIssuer>;
  readonly apis: ReadonlyMap<string, Api>;
  /** Keyed by the exact `resource` URI. */
  readonly apisByResource: ReadonlyMap<string, Api>;
  /** Every scope name, across all APIs (scope names are unique). */
  readonly scopes: ReadonlyMap<string, Scope>;
  readonly agents: ReadonlyMap<string, Agent>;
  readonly tasks: ReadonlyMap<string, TaskTemplate>;
  /** Approver group id → members (subject identifiers). */
  readonly approvers: ReadonlyMap<string, ReadonlySet<string>>;
  /** The files the policy was read from, relative to its directory, sorted. */
  readonly files: readonly string[];
  /** A content hash: recorded with every decision, shown by /healthz and whoami. */
  readonly version: string;
}
