/**
 * Reads the bearer token from an `Authorization` header value (RFC 6750 §2.1), or takes a bare
 * token as it is.
 *
 * @module verify/bearer-token
 */

import { BearerError } from "./bearer-error.js";

/** Longest token accepted, in characters: far above anything Baton issues. */
export const MAX_TOKEN_LENGTH = 8192;

/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function bearerToken(headerOrToken: string | null | undefined): string {
  const value = headerOrToken?.trim() ?? "";
  if (value === "") throw new BearerError("missing_token", "header.missing");
  // A scheme with no credentials after it: a malformed request, not a bare token.
  if (value.toLowerCase() === "bearer")
    throw new BearerError("invalid_request", "header.malformed");
  const space = value.indexOf(" ");
  let token = value;
  if (space !== -1) {
    // RFC 7235 §2.1: the scheme is case-insensitive. Another scheme is no bearer token (§3.1).
    if (value.slice(0, space).toLowerCase() !== "bearer")
      throw new BearerError("missing_token", "header.scheme");
    token = value.slice(space + 1).trim();
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new BearerError("invalid_token", "oversized");
  if (!B64TOKEN.test(token)) throw new BearerError("invalid_request", "header.malformed");
  return token;
}
