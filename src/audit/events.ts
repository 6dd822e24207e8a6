/**
 * The audit events: a typed stream of `noun.verb` records (design §7).
 *
 * Events name tokens by `jti` only. No token, secret or key ever goes into one (rule 9).
 *
 * @module audit/events
 */

/**
 * What an exchange issued: an access token for an API, a delegation token for a sub-agent, or
 * an ID-JAG for an API behind its own authorization server (design §3.4).
 */
export type TokenKind = "access" | "delegation" | "id_jag";

export interface ExchangeIssued {
  readonly type: "exchange.issued";
  readonly subject: string;
  /** The agents, current actor first (RFC 8693 §4.1); empty for an impersonation. */
  readonly chain: readonly string[];
  readonly agent: string;
  readonly kind: TokenKind;
  /** The API id (an ID-JAG's too), or for a delegation token the sub-agent it is for. */
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly jti: string;
  /** The subject token's `jti`, when it had one. */
  readonly parent_jti?: string;
  /**
   * The JWT bearer grant (RFC 7523): the ID-JAG redeemed, by its issuer and `jti`. Its `sub`
   * is unique only with its `iss` (draft-ietf-oauth-identity-assertion-authz-grant §6.3).
   */
  readonly assertion?: { readonly iss: string; readonly jti: string };
  readonly exp: number;
  readonly txn?: string;
  /** The agent's stated reason, as given (bounded in length at the door). */
  readonly reason?: string;
  /** The policy version the decision was made under. */
  readonly policy?: string;
}

export interface ExchangeDenied {
  readonly type: "exchange.denied";
  readonly error: string;
  /** The rule behind the refusal, e.g. `narrow.scope.agent`. */
  readonly rule: string;
  readonly agent?: string;
  readonly subject?: string;
  /** The JWT bearer grant: the issuer of the ID-JAG refused, once its signature held. */
  readonly assertion_iss?: string;
  readonly audience?: string;
  readonly scopes?: readonly string[];
  readonly reason?: string;
  /** The policy version the decision was made under. */
  readonly policy?: string;
}

export interface ClientAuthFailed {
  readonly type: "client.auth_failed";
  readonly rule: string;
  /** The client id the caller claimed, if any (it may not exist). */
  readonly client_id?: string;
}

export interface TokenRevoked {
  readonly type: "token.revoked";
  readonly jti: string;
  readonly by: string;
  readonly subject?: string;
}

export interface TokenIntrospected {
  readonly type: "token.introspected";
  readonly by: string;
  readonly active: boolean;
  readonly jti?: string;
  /**
   * Present (false) when the caller was not entitled to the answer (RFC 7662 §4): a valid
   * token of ours that is not its own, so it got `active: false`. Probing shows up here.
   */
  readonly entitled?: false;
}

export interface KeyRotated {
  readonly type: "key.rotated";
  readonly kid: string;
  readonly previous?: string;
}

/** `baton keys withdraw`: a key out of the JWKS at once, every token it signed dead. */
export interface KeyWithdrawn {
  readonly type: "key.withdrawn";
  readonly kid: string;
  /** The new current key, when the withdrawn key was the one signing. */
  readonly replaced_by?: string;
}

export interface DevTokenIssued {
  readonly type: "dev_token.issued";
  readonly subject: string;
  readonly jti: string;
  readonly exp: number;
  readonly agent?: string;
}

export interface TaskStarted {
  readonly type: "task.started";
  readonly task: string;
  readonly agent: string;
  readonly subject: string;
  readonly ceiling: readonly string[];
  readonly deadline: number;
  readonly max_tokens: number;
  readonly purpose: string;
  readonly template?: string;
}

export interface TaskEnded {
  readonly type: "task.ended";
  readonly task: string;
  readonly by: string;
  readonly subject: string;
}

export interface ApprovalRequested {
  readonly type: "approval.requested";
  readonly approval: string;
  /** Who asks: the agent, the agents before it, and the user they act for. */
  readonly agent: string;
  readonly chain: readonly string[];
  readonly subject: string;
  /** What for: the API (or task template) and its scopes. */
  readonly target: string;
  readonly scopes: readonly string[];
  /** Who may decide, until when, and the task it was asked in. */
  readonly approvers: readonly string[];
  readonly expires_at: number;
  readonly txn?: string;
  /** A task's approval: every agent the one approval covers, with its elevated scopes. */
  readonly covers?: readonly {
    readonly agent: string;
    readonly scopes: readonly string[];
    readonly delegated: boolean;
  }[];
}

export interface ApprovalDecided {
  readonly type: "approval.decided";
  readonly approval: string;
  readonly decision: "approved" | "denied";
  /** Who decided: an approver's subject id, or `operator` for the CLI. */
  readonly by: string;
  /** Where: the web page, the CLI, or the user's MCP client (elicitation). */
  readonly via: "web" | "cli" | "elicitation";
}

export interface ApprovalRedeemed {
  readonly type: "approval.redeemed";
  readonly approval: string;
  readonly agent: string;
}

export interface PolicyReloaded {
  readonly type: "policy.reloaded";
  readonly version: string;
  readonly previous: string;
}

export interface PolicyRejected {
  readonly type: "policy.rejected";
  /** The version still in force. */
  readonly version: string;
  /** `file: path: message` lines, as `baton policy check` prints them. */
  readonly issues: readonly string[];
}

export type AuditEvent =
  | ExchangeIssued
  | ExchangeDenied
  | ClientAuthFailed
  | TokenRevoked
  | TokenIntrospected
  | KeyRotated
  | KeyWithdrawn
  | DevTokenIssued
  | TaskStarted
  | TaskEnded
  | ApprovalRequested
  | ApprovalDecided
  | ApprovalRedeemed
  | PolicyReloaded
  | PolicyRejected;

/** Where events go. `record` never throws and never blocks the request on I/O. */
export interface AuditSink {
  /** Writes the event; throws `auditUnavailable` once the log can no longer be written. */
  record(event: AuditEvent): void;
  /**
   * Resolves once every event recorded so far has been handed to the operating system, so it
   * outlives a crash of this process; rejects with `auditUnavailable` if it could not be
   * written. A token leaves only after its event is written (rule 8: no audit, no token).
   */
  written(): Promise<void>;
  close(): Promise<void>;
  /** The error that stopped the log, if one has: readiness reports it. */
  failure?(): unknown;
}
