/**
 * Label values of the metrics, each from a closed set: a label value is a time series, so text
 * a caller chose (a subject, a token, a made-up method or error) must never become one.
 *
 * @module metrics/labels
 */

import type { ErrorCode } from "../errors.js";

/** Every OAuth error code Baton sends; a Record so the compiler keeps it complete. */
const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  invalid_request: true,
  invalid_client: true,
  unauthorized_client: true,
  unsupported_grant_type: true,
  invalid_scope: true,
  invalid_target: true,
  invalid_grant: true,
  invalid_token: true,
  authorization_pending: true,
  access_denied: true,
  expired_token: true,
  slow_down: true,
  temporarily_unavailable: true,
  server_error: true,
};

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Anything outside a closed set. */
export const OTHER = "other";

/** The `outcome` of a refused exchange: its OAuth error code. */
export function refusalOutcome(error: string): string {
  return Object.hasOwn(ERROR_CODES, error) ? error : OTHER;
}

/** The `method` label: a standard method, or `other` (a client may send any token). */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : OTHER;
}
