/**
 * Form parameters as the OAuth endpoints read them (RFC 6749 §3.2): every value of every name,
 * so that a repeated parameter can be told from a single one and refused.
 *
 * @module http/form-params
 */

import { invalidRequest } from "../errors.js";

/** Form parameters as received: every value of every name, in order. */
export type FormParams = ReadonlyMap<string, readonly string[]>;

/** RFC 8693 §2.1 (and RFC 8707 §2): only these may appear more than once. */
const REPEATABLE = new Set(["resource", "audience"]);

/**
 * The token exchange's own parameters (RFC 8693 §2.1, and Baton's `task_id` and `ttl_seconds`):
 * sent with the JWT bearer grant, they mean the client confused the two grants.
 */
export const EXCHANGE_ONLY = [
  "subject_token",
  "subject_token_type",
  "actor_token",
  "actor_token_type",
  "requested_token_type",
  "resource",
  "audience",
  "task_id",
  "ttl_seconds",
] as const;

/** The names the OAuth endpoints read; anything else is ignored (RFC 6749 §3.2). */
const KNOWN = [
  "grant_type",
  ...EXCHANGE_ONLY,
  "scope",
  "reason",
  "approval_id",
  "assertion",
  "purpose",
  "template",
  "max_tokens",
  "client_id",
  "client_secret",
  "client_assertion",
  "client_assertion_type",
  "token",
  "token_type_hint",
] as const;

/** RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once." */
export function rejectRepeated(params: FormParams): void {
  for (const name of KNOWN) {
    if (!REPEATABLE.has(name) && (params.get(name)?.length ?? 0) > 1) {
      throw invalidRequest(`"${name}" parameter is repeated`, "request.repeated");
    }
  }
}

/** The one value of a parameter; RFC 6749 §3.1: an empty value counts as omitted. */
export function single(params: FormParams, name: string): string | undefined {
  const value = params.get(name)?.[0];
  return value === undefined || value === "" ? undefined : value;
}

/** Every non-empty value of a repeatable parameter (`resource`, `audience`). */
export function values(params: FormParams, name: string): string[] {
  return (params.get(name) ?? []).filter((v) => v !== "");
}
