/**
 * OAuth JSON responses: always `Cache-Control: no-store` (RFC 6749 §5.1, RFC 8693 §2.2).
 *
 * @module http/respond
 */

import type { Context } from "hono";
import { asBatonError } from "../errors.js";

const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

export function oauthJson(c: Context, body: unknown, status: 200 | 201 = 200): Response {
  return c.json(body, status, NO_STORE);
}

/** RFC 6749 §5.2 error body. 5xx text is generic; the cause stays server-side. */
export function oauthError(c: Context, err: unknown): Response {
  const error = asBatonError(err);
  return c.json(error.toResponseObject(), error.status as 400, { ...NO_STORE, ...error.headers });
}
