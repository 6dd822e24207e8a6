/**
 * Errors that carry their OAuth wire code and serialise themselves.
 *
 * Descriptions are fixed ASCII text (RFC 6749 §5.2 charset), never echo input, and do not tell
 * one token failure from another (design §3.6). The `rule` says which rule refused, for the
 * audit log only: it never reaches the wire.
 *
 * @module errors
 */

/** Every OAuth error code Baton can send. */
export type ErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
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

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Which rule refused, e.g. `narrow.scope.agent`: for audit, never for the response. */
  readonly rule: string;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Extra members of the error body (e.g. `approval_id` with `authorization_pending`). */
  readonly extra: Readonly<Record<string, string | number>>;

  constructor(
    code: ErrorCode,
    status: number,
    description: string,
    rule: string,
    options: {
      headers?: Record<string, string>;
      extra?: Record<string, string | number>;
      cause?: unknown;
    } = {},
  ) {
    super(description, { cause: options.cause });
    this.name = "BatonError";
    this.code = code;
    this.status = status;
    this.rule = rule;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  /** The wire body. 5xx descriptions are generic: internals never leak. */
  toResponseObject(): ErrorBody {
    // RFC 6749 §5.2: the description excludes `"` and `\`; parameter names are quoted with `'`.
    return { error: this.code, error_description: this.message.replace(/"/g, "'"), ...this.extra };
  }
}

/** Malformed, missing or repeated parameter; wrong content type; unknown token type. */
export const invalidRequest = (description: string, rule = "request.malformed") =>
  new BatonError("invalid_request", 400, description, rule);

/**
 * RFC 8693 §2.2.2: a subject or actor token that is invalid or unacceptable for any reason.
 * One description for every cause, so that a caller cannot probe which check failed.
 */
export const invalidToken = (rule: string, cause?: unknown) =>
  new BatonError("invalid_request", 400, "The presented token is not acceptable", rule, { cause });

export const invalidClient = (rule: string, viaHeader: boolean) =>
  new BatonError("invalid_client", 401, "Client authentication failed", rule, {
    // RFC 6749 §5.2: when the client used the Authorization header, answer with a challenge.
    headers: viaHeader ? { "WWW-Authenticate": 'Basic realm="baton", charset="UTF-8"' } : {},
  });

export const unauthorizedClient = (rule: string) =>
  new BatonError("unauthorized_client", 400, "The client is not allowed to use this grant", rule);

export const unsupportedGrantType = () =>
  new BatonError(
    "unsupported_grant_type",
    400,
    "Only the token exchange grant is supported",
    "request.grant_type",
  );

export const invalidScope = (description: string, rule: string) =>
  new BatonError("invalid_scope", 400, description, rule);

export const invalidTarget = (description: string, rule: string) =>
  new BatonError("invalid_target", 400, description, rule);

/** RFC 6750 §3.1: a bearer token that is missing, expired, revoked or not for this resource. */
export const invalidBearer = (rule: string, cause?: unknown) =>
  new BatonError("invalid_token", 401, "The access token is not valid for this resource", rule, {
    cause,
  });

/** Fail closed (design §4 rule 8): the store could not answer, so nothing is issued. */
export const storeUnavailable = (cause?: unknown) =>
  new BatonError(
    "temporarily_unavailable",
    503,
    "The service is temporarily unavailable",
    "store.unavailable",
    { headers: { "Retry-After": "1" }, cause },
  );

/**
 * The audit log cannot be written (a full disk, a lost mount). No exchange may then succeed
 * unrecorded: every decision is refused as the store's absence is (design §4 rule 8).
 */
export const auditUnavailable = (cause?: unknown) =>
  new BatonError(
    "temporarily_unavailable",
    503,
    "The service is temporarily unavailable",
    "audit.unavailable",
    { headers: { "Retry-After": "1" }, cause },
  );

/** Anything unexpected. The description is generic; the cause stays in the log. */
export const serverError = (cause?: unknown) =>
  new BatonError("server_error", 500, "Internal server error", "internal", { cause });

/** Turns anything thrown into a BatonError, hiding what was not meant for the wire. */
export function asBatonError(err: unknown): BatonError {
  return err instanceof BatonError ? err : serverError(err);
}
