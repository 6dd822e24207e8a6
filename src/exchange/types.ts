/**
 * The types of the exchange core: what both doors (HTTP and MCP) hand it, and what it returns.
 *
 * @module exchange/types
 */

import type { AuditSink, TokenKind } from "../audit/events.js";
import type { Clock } from "../clock.js";
import type { Policy } from "../policy/types.js";
import type { Store } from "../store/store.js";
import type { KeyRing } from "../tokens/key-ring.js";
import type { IssuerVerifier } from "../tokens/verify.js";

/** A policy together with what is built from it once (issuer key sets), swapped as one. */
export interface ActivePolicy {
  readonly policy: Policy;
  readonly issuerVerifiers: ReadonlyMap<string, IssuerVerifier>;
}

export interface ExchangeDeps {
  /** The broker's issuer identifier: `iss` of its tokens, `aud` of delegation tokens. */
  readonly issuer: string;
  /** The policy in force. A getter, so that one request sees one policy throughout. */
  readonly active: () => ActivePolicy;
  readonly keys: KeyRing;
  readonly store: Store;
  readonly audit: AuditSink;
  readonly clock: Clock;
}

/** RFC 8693 §2.1, parsed once at the edge. Scopes are split; targets are the raw values. */
export interface TokenExchangeRequest {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken?: string;
  readonly actorTokenType?: string;
  /**
   * `access_token` (for an API, the default), `jwt` (a delegation token for a sub-agent) or
   * `id-jag` (an ID-JAG for an API behind its own authorization server, design §3.4).
   */
  readonly requestedTokenType: string;
  /**
   * With `access_token` requested: an ID-JAG instead when the API is behind its own
   * authorization server (design §3.4). The MCP tool `request_token` asks so, naming an API
   * whichever kind of token it takes; an HTTP client names the type it wants, and never this.
   */
  readonly idJagIfOutside?: true;
  readonly resources: readonly string[];
  readonly audiences: readonly string[];
  /** Undefined when the request named no scope. */
  readonly scopes?: readonly string[];
  /** Requested lifetime in seconds (Baton's `ttl_seconds` extension). */
  readonly ttlSeconds?: number;
  /** Why the agent asks, in its own words: kept in the audit log, never used for decisions. */
  readonly reason?: string;
  /** The task to enter (Baton's `task_id` extension); tokens already in a task carry `txn`. */
  readonly taskId?: string;
  /** A decided approval this request redeems (Baton's `approval_id` extension, rule 6). */
  readonly approvalId?: string;
}

/**
 * RFC 7523 §2.1 with an ID-JAG as the assertion (draft-ietf-oauth-identity-assertion-authz-grant
 * §4.4), parsed once at the edge. Scopes are split.
 */
export interface JwtBearerRequest {
  readonly assertion: string;
  /** Undefined when the request named no scope: the ID-JAG's scope then stands (EMA §7.2.1). */
  readonly scopes?: readonly string[];
  /** Kept in the audit log, never used for decisions (as for an exchange). */
  readonly reason?: string;
  /** A decided approval this request redeems (Baton's `approval_id` extension, rule 6). */
  readonly approvalId?: string;
}

/** The authenticated agent on whose credentials the request came. */
export interface Caller {
  readonly agentId: string;
  /**
   * The user an MCP session is bound to (the bearer token's `sub`): every subject token used
   * in that session must be for this user.
   */
  readonly sessionSubject?: string;
}

export interface ExchangeResult {
  /** The issued token. Goes to the caller only, never to a log. */
  readonly token: string;
  readonly kind: TokenKind;
  readonly issuedTokenType: string;
  /** `Bearer` for an access token, `N_A` for a delegation token or an ID-JAG (RFC 8693 §2.2.1). */
  readonly tokenType: "Bearer" | "N_A";
  readonly expiresIn: number;
  readonly scopes: readonly string[];
  /** The API id (for an ID-JAG too), or the sub-agent id for a delegation token. */
  readonly audience: string;
  /** The API's resource URI: an access token's `aud`, an ID-JAG's `resource`. */
  readonly resource?: string;
  /** For an ID-JAG: its `aud`, the issuer of the API's authorization server. */
  readonly authorizationServer?: string;
  readonly jti: string;
  readonly exp: number;
  readonly txn?: string;
}
