/**
 * Refusals (design §3.6, §5): one class per OAuth wire code with its HTTP status fixed, each
 * carrying its cause as data: a typed rule and, where the rule has some, the facts a caller
 * needs to act. HTTP renders the fixed description (RFC 6749 §5.2 charset, never echoing input,
 * never telling one token failure from another); MCP derives its hint from the rule and the
 * facts (mcp/hints.ts). Rule and facts never reach the HTTP wire. Refusals are built here only
 * (test/architecture/errors.test.ts): the rest of the code calls the factories below.
 * @module errors
 */

/** Every OAuth error code Baton sends. */
export type ErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_grant"
  | "invalid_token"
  | "authorization_pending"
  | "access_denied"
  | "expired_token"
  | "slow_down"
  | "temporarily_unavailable"
  | "server_error";

/** The JSON body of an OAuth error response (RFC 6749 §5.2). */
export interface ErrorBody {
  error: ErrorCode;
  error_description: string;
  /** Members some errors add, e.g. `approval_id` with `authorization_pending`. */
  [member: string]: string | number;
}

import type { Rule } from "./rules.js";

export type { Rule, VerifierRule } from "./rules.js";
export { verifierRule } from "./rules.js";

/** Where a scope bound refused: what the request may carry instead. Policy data, never input. */
export interface ScopeFacts {
  /** The API (access token) or the sub-agent (delegation token), by its policy id. */
  readonly target?: string;
  /** Every scope the request may carry under all of its bounds; empty when none. */
  readonly allowed: readonly string[];
}

type ScopeRule = Exclude<Extract<Rule, `narrow.scope.${string}`>, "narrow.scope.task">;

/** The facts a caller needs to act on each rule that has some (issue 15 item 3). */
export interface FactsByRule extends Record<ScopeRule, ScopeFacts> {
  /** The task ceiling too; `narrow.scope.delegate`: what the sub-agent may receive. */
  readonly "narrow.scope.task": ScopeFacts & { readonly ceiling: readonly string[] };
  /** The API ids of the policy. */
  readonly "target.unknown": { readonly apis: readonly string[] };
  /** The agents this agent may delegate to. */
  readonly "delegate.edge": { readonly delegateTo: readonly string[] };
  /** The task templates of the policy. */
  readonly "task.template": { readonly templates: readonly string[] };
  /** The agents that may revoke the token (rule 7). */ readonly "revoke.not_party": {
    readonly revokers: readonly string[];
  };
}

/** A refusal's cause: its rule, with the facts of that rule. */
export type Refusal = RefusalOf<Rule>;
type RefusalOf<R extends Rule> = R extends keyof FactsByRule
  ? { readonly rule: R; readonly facts: FactsByRule[R] }
  : { readonly rule: R; readonly facts?: undefined };
type Plain = Exclude<Rule, keyof FactsByRule>;

/** The factories' trailing argument: the facts, exactly when the rule has some. */
type FactsArgs<R extends Rule> = R extends keyof FactsByRule ? [facts: FactsByRule[R]] : [];

export interface Options {
  headers?: Record<string, string>;
  extra?: Record<string, string | number>;
  cause?: unknown;
}

export abstract class BatonError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Why it refused, e.g. `{rule: "delegate.edge", facts: {delegateTo: [...]}}`: never on the wire. */
  readonly refusal: Refusal;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Extra members of the error body (e.g. `approval_id` with `authorization_pending`). */
  readonly extra: Readonly<Record<string, string | number>>;

  constructor(description: string, refusal: Refusal, options: Options = {}) {
    super(description, { cause: options.cause });
    const wire = new.target as unknown as { code: ErrorCode; status: number };
    this.name = new.target.name;
    this.code = wire.code;
    this.status = wire.status;
    this.refusal = refusal;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  /** Which rule refused, e.g. `narrow.scope.agent`: for audit, never for the response. */
  get rule(): Rule {
    return this.refusal.rule;
  }

  /** The wire body. 5xx descriptions are generic: internals never leak. */
  toResponseObject(): ErrorBody {
    // RFC 6749 §5.2: the description excludes `"` and `\`; parameter names are quoted with `'`.
    return { error: this.code, error_description: this.message.replace(/"/g, "'"), ...this.extra };
  }
}

// One class per wire code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8628 §3.5, RFC 8693 §2.2.2, RFC
// 8707 §2), its status fixed, never a caller's. The approver's desk (approval page, CLI) is no
// OAuth endpoint: its two refusals keep 403 and 409, which the page maps to 404 and 409.

type Construct = new (description: string, refusal: Refusal, options?: Options) => BatonError;
type WireClass = Construct & { readonly code: ErrorCode; readonly status: number };
/** Each code's class: what a refusal read back off the wire is rebuilt as. */
const BY_CODE = new Map<ErrorCode, WireClass>();
/** Every class, for the architecture test of each code→status pairing. */
export const ERROR_CLASSES: WireClass[] = [];

function wire(name: string, code: ErrorCode, status: number): WireClass {
  const WireError = class extends BatonError {
    static readonly code = code;
    static readonly status = status;
  };
  Object.defineProperty(WireError, "name", { value: name });
  if (!BY_CODE.has(code)) BY_CODE.set(code, WireError);
  ERROR_CLASSES.push(WireError);
  return WireError;
}

export const InvalidRequest = wire("InvalidRequest", "invalid_request", 400);
export const InvalidClient = wire("InvalidClient", "invalid_client", 401);
export const UnauthorizedClient = wire("UnauthorizedClient", "unauthorized_client", 400);
export const UnsupportedGrantType = wire("UnsupportedGrantType", "unsupported_grant_type", 400);
export const InvalidScope = wire("InvalidScope", "invalid_scope", 400);
export const InvalidTarget = wire("InvalidTarget", "invalid_target", 400);
/** RFC 7521 §5.2: the JWT bearer grant's assertion (an ID-JAG) is not acceptable. */
export const InvalidGrant = wire("InvalidGrant", "invalid_grant", 400);
/** RFC 6750 §3.1: a bearer token at a protected resource (`/mcp`). */
export const InvalidToken = wire("InvalidToken", "invalid_token", 401);
export const AuthorizationPending = wire("AuthorizationPending", "authorization_pending", 400);
export const AccessDenied = wire("AccessDenied", "access_denied", 400);
export const ExpiredToken = wire("ExpiredToken", "expired_token", 400);
export const SlowDown = wire("SlowDown", "slow_down", 429);
const UNAVAILABLE = "temporarily_unavailable";
export const TemporarilyUnavailable = wire("TemporarilyUnavailable", UNAVAILABLE, 503);
export const ServerError = wire("ServerError", "server_error", 500);
/** The approver's desk: unknown, or not this approver's (one answer: no probing). */
export const NotApprover = wire("NotApprover", "access_denied", 403);
/** The approver's desk: decided already (RFC 9110 §15.5.10 409 Conflict). */
export const NoLongerPending = wire("NoLongerPending", "invalid_request", 409);

const refusal = <R extends Rule>(rule: R, facts: FactsArgs<R>): Refusal =>
  (facts.length === 0 ? { rule } : { rule, facts: facts[0] }) as Refusal;
const plain = (rule: Rule) => ({ rule }) as Refusal;
const retryAfter = (seconds: number) => ({ headers: { "Retry-After": String(seconds) } });

// The factories: how the rest of the code builds a refusal. A rule that has facts requires them.

/** A factory of refusals of one class, with the facts their rule has. */
const withFacts =
  (Class: WireClass) =>
  <R extends Rule>(description: string, rule: R, ...facts: FactsArgs<R>) =>
    new Class(description, refusal(rule, facts));

/** Malformed, missing or repeated parameter; wrong content type; a task or approval refused. */
export const invalidRequest = <R extends Rule = "request.malformed">(
  description: string,
  rule: R = "request.malformed" as R,
  ...facts: FactsArgs<R>
) => new InvalidRequest(description, refusal(rule, facts));

/** Scope outside the API, the agent, the subject token or the task ceiling (rule 1). */
export const invalidScope = withFacts(InvalidScope);

/** API unknown, not allowed, or more than one target (rule 3, RFC 8707); delegation off-edge. */
export const invalidTarget = withFacts(InvalidTarget);

/** RFC 8693 §2.2.2: a subject or actor token refused, one description for every cause. */
export const invalidToken = (rule: Plain, cause?: unknown) =>
  new InvalidRequest("The presented token is not acceptable", plain(rule), { cause });

/**
 * RFC 7521 §5.2: an assertion (an ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant §4.4)
 * refused, one description for every cause, as for a subject token.
 */
export const invalidGrant = (rule: Extract<Rule, `assertion.${string}`>, cause?: unknown) =>
  new InvalidGrant("The assertion is not acceptable", plain(rule), { cause });

// RFC 6749 §5.2: when the client used the Authorization header, answer with a challenge.
const BASIC = { "WWW-Authenticate": 'Basic realm="baton", charset="UTF-8"' };
export const invalidClient = (rule: Rule, viaHeader: boolean) =>
  new InvalidClient("Client authentication failed", plain(rule), {
    headers: viaHeader ? BASIC : {},
  });

export const unauthorizedClient = (
  rule: Plain,
  description = "The client is not allowed to use this grant",
) => new UnauthorizedClient(description, plain(rule));

/** RFC 7009 §2.1: the token was not issued to the caller; `revokers` may revoke it (rule 7). */
export const notRevoker = (revokers: readonly string[]) =>
  new UnauthorizedClient("The client may not revoke this token", {
    rule: "revoke.not_party",
    facts: { revokers },
  });

export const unsupportedGrantType = () =>
  new UnsupportedGrantType("The grant type is not supported", plain("request.grant_type"));

/** RFC 6750 §3.1: a bearer token that is missing, expired, revoked or not for this resource. */
export const invalidBearer = (rule: Rule, cause?: unknown) =>
  new InvalidToken("The access token is not valid for this resource", plain(rule), { cause });

/** Rule 6: a grant waits for a human; `extra` says which approval, where, how often to ask. */
export const authorizationPending = (extra: Record<string, string | number>) =>
  new AuthorizationPending(
    "The request is waiting for a human approval",
    plain("approval.pending"),
    { extra },
  );

export const approvalDenied = () =>
  new AccessDenied("The approver denied the request", plain("approval.denied"));
export const approvalExpired = () =>
  new ExpiredToken("The approval request has expired", plain("approval.expired"));
export const notApprover = () =>
  new NotApprover("No such approval for this approver", plain("approval.not_approver"));
export const noLongerPending = () =>
  new NoLongerPending("The approval is no longer pending", plain("approval.decided"));

/** A rate limit or the approval cap; Retry-After in whole seconds (RFC 9110 §10.2.3). */
export const slowDown = (
  description: string,
  rule: Extract<Rule, `rate_limit.${string}`> | "approval.cap",
  seconds: number,
) => new SlowDown(description, plain(rule), retryAfter(seconds));

/** Fail closed (design §4 rule 8): the store could not answer, so nothing is issued. */
export const storeUnavailable = (cause?: unknown) =>
  new TemporarilyUnavailable("The service is temporarily unavailable", plain("store.unavailable"), {
    ...retryAfter(1),
    cause,
  });

/** The audit log cannot be written (a full disk): no exchange may succeed unrecorded (rule 8). */
export const auditUnavailable = (cause?: unknown) =>
  new TemporarilyUnavailable("The service is temporarily unavailable", plain("audit.unavailable"), {
    ...retryAfter(1),
    cause,
  });

/** Anything unexpected. The description is generic; the cause stays in the log. */
export const serverError = (cause?: unknown) =>
  new ServerError("Internal server error", plain("internal"), { cause });

/** A remote broker's refusal (`baton mcp --broker`): its HTTP body has no rule and no facts. */
export function remoteRefusal(code: string, description: string, options: Options): BatonError {
  const Class = BY_CODE.get(code as ErrorCode) ?? ServerError;
  return new Class(description, plain("remote"), options);
}

/** Every code, in a closed set (metrics labels). */
export const ERROR_CODES: ReadonlySet<ErrorCode> = new Set(BY_CODE.keys());

/** Turns anything thrown into a BatonError, hiding what was not meant for the wire. */
export function asBatonError(err: unknown): BatonError {
  return err instanceof BatonError ? err : serverError(err);
}
