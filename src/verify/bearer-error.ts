/**
 * The refusals of a protected resource (RFC 6750 §3): an error that carries its status and
 * code, and renders its own `WWW-Authenticate` challenge and JSON body.
 *
 * Descriptions are fixed ASCII text. No token, and nothing read from one, is ever put in an
 * error: `reason` says why for the API owner's logs, and never reaches the wire.
 *
 * @module verify/bearer-error
 */

/**
 * RFC 6750 §3.1 codes, plus two that are not sent as `error=`: `missing_token` (the request
 * carried no bearer token at all, §3.1: the challenge then has no error attribute) and
 * `temporarily_unavailable` (the keys, the metadata or the introspection endpoint could not be
 * reached: the token is refused, fail closed, with 503).
 */
export type BearerErrorCode =
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  | "missing_token"
  | "temporarily_unavailable";

const STATUS: Record<BearerErrorCode, 400 | 401 | 403 | 503> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  missing_token: 401,
  temporarily_unavailable: 503,
};

const DESCRIPTION: Record<BearerErrorCode, string> = {
  invalid_request: "The request does not carry a well-formed bearer token",
  invalid_token: "The access token is not acceptable",
  insufficient_scope: "The access token lacks a scope this request needs",
  missing_token: "A bearer access token is required",
  temporarily_unavailable: "The access token cannot be checked now",
};

export interface BearerErrorBody {
  error: Exclude<BearerErrorCode, "missing_token"> | "unauthorized";
  error_description: string;
  scope?: string;
}

export class BearerError extends Error {
  readonly code: BearerErrorCode;
  /** The HTTP status to answer with: 400, 401, 403 or 503. */
  readonly status: 400 | 401 | 403 | 503;
  /** With `insufficient_scope`: the scopes the request needs (RFC 6750 §3 `scope`). */
  readonly scope: readonly string[];
  /** Why, for the API owner's logs only (e.g. `aud`, `exp`, `typ`, `revoked`): never sent. */
  readonly reason: string;

  constructor(code: BearerErrorCode, reason: string, scope: readonly string[] = []) {
    super(DESCRIPTION[code]);
    this.name = "BearerError";
    this.code = code;
    this.status = STATUS[code];
    this.reason = reason;
    this.scope = scope;
  }

  /**
   * The `WWW-Authenticate` value (RFC 6750 §3), e.g.
   * `Bearer realm="flights", error="insufficient_scope", error_description="…", scope="flights.book"`.
   * Undefined for 503, which is not a challenge.
   */
  wwwAuthenticate(realm?: string): string | undefined {
    if (this.code === "temporarily_unavailable") return undefined;
    const params: [string, string][] = realm === undefined ? [] : [["realm", realm]];
    // §3.1: a request with no authentication information gets no error attributes.
    if (this.code !== "missing_token") {
      params.push(["error", this.code], ["error_description", this.message]);
      if (this.scope.length > 0) params.push(["scope", this.scope.join(" ")]);
    }
    if (params.length === 0) return "Bearer";
    return `Bearer ${params.map(([k, v]) => `${k}="${quoted(v)}"`).join(", ")}`;
  }

  /** The JSON body to send with it. */
  toJSON(): BearerErrorBody {
    return {
      error: this.code === "missing_token" ? "unauthorized" : this.code,
      error_description: this.message,
      ...(this.scope.length > 0 ? { scope: this.scope.join(" ") } : {}),
    };
  }

  /** Status, headers and body of the refusal, ready for any HTTP framework. */
  toResponse(realm?: string): {
    status: 400 | 401 | 403 | 503;
    headers: Record<string, string>;
    body: BearerErrorBody;
  } {
    const challenge = this.wwwAuthenticate(realm);
    return {
      status: this.status,
      headers: {
        "Cache-Control": "no-store",
        ...(challenge === undefined ? {} : { "WWW-Authenticate": challenge }),
        ...(this.status === 503 ? { "Retry-After": "5" } : {}),
      },
      body: this.toJSON(),
    };
  }
}

/** RFC 7230 quoted-string: escape `\` and `"` (realm is the caller's; the rest is fixed text). */
function quoted(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}
