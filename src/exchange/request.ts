/**
 * Parses an RFC 8693 §2.1 token exchange request from form parameters, once, at the edge.
 *
 * @module exchange/request
 */

import { z } from "zod";
import { invalidRequest, unsupportedGrantType } from "../errors.js";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../tokens/token-types.js";
import { MAX_TOKEN_LENGTH } from "../tokens/verify.js";
import type { StartTaskRequest } from "./operations/start-task.js";
import type { TokenExchangeRequest } from "./types.js";

/** Form parameters as received: every value of every name, in order. */
export type FormParams = ReadonlyMap<string, readonly string[]>;

/** RFC 8693 §2.1 (and RFC 8707 §2): only these may appear more than once. */
const REPEATABLE = new Set(["resource", "audience"]);

/** The names the OAuth endpoints read; anything else is ignored (RFC 6749 §3.2). */
const KNOWN = [
  "grant_type",
  "subject_token",
  "subject_token_type",
  "actor_token",
  "actor_token_type",
  "requested_token_type",
  "resource",
  "audience",
  "scope",
  "ttl_seconds",
  "reason",
  "task_id",
  "approval_id",
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

const tokenField = (label: string) =>
  z
    .string({ error: `"${label}" parameter is required` })
    .max(MAX_TOKEN_LENGTH, `"${label}" parameter is too long`);

const tokenTypeField = (label: string) =>
  z
    .string({ error: `"${label}" parameter is required` })
    .max(256, `"${label}" parameter is too long`);

/** Longest `reason` kept: a sentence or two for the audit log and the approver. */
export const MAX_REASON_LENGTH = 500;

/** A task id as Baton makes them (`tsk_` + 22 base64url characters), loosely bounded. */
export const TaskIdField = z
  .string()
  .regex(/^tsk_[A-Za-z0-9_-]{1,64}$/, '"task_id" is not a task id');

/** An approval id as Baton makes them (`apr_` + 22 base64url characters), loosely bounded. */
export const ApprovalIdField = z
  .string()
  .regex(/^apr_[A-Za-z0-9_-]{1,64}$/, '"approval_id" is not an approval id');

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-delimited. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

export const TokenExchangeRequestSchema = z
  .object({
    subject_token: tokenField("subject_token"),
    subject_token_type: tokenTypeField("subject_token_type"),
    actor_token: tokenField("actor_token").optional(),
    actor_token_type: tokenTypeField("actor_token_type").optional(),
    requested_token_type: z
      .enum([TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt], {
        error: '"requested_token_type" must be the access_token or jwt token type',
      })
      .default(TOKEN_TYPE.accessToken),
    // Kept exactly as sent: its form and its match with the registry are the target's to judge
    // (exchange/target.ts), so that nothing here trims or normalises it first.
    resource: z.array(z.string().max(2048, '"resource" is too long')).max(16, "too many targets"),
    audience: z.array(z.string().max(2048, '"audience" is too long')).max(16, "too many targets"),
    scope: z
      .string()
      .max(4096, '"scope" parameter is too long')
      .regex(SCOPE, '"scope" parameter is malformed')
      .optional(),
    reason: z.string().max(MAX_REASON_LENGTH, '"reason" parameter is too long').optional(),
    task_id: TaskIdField.optional(),
    approval_id: ApprovalIdField.optional(),
    ttl_seconds: z
      .string()
      .regex(/^[1-9][0-9]{0,8}$/, '"ttl_seconds" must be a positive integer')
      .optional(),
  })
  // RFC 8693 §2.1: actor_token_type "is REQUIRED when the actor_token parameter is present in
  // the request but MUST NOT be included otherwise".
  .refine((r) => (r.actor_token === undefined) === (r.actor_token_type === undefined), {
    message: '"actor_token_type" must be sent with "actor_token", and only with it',
  });

/** Validates the form and returns the request, or throws the matching OAuth error. */
export function parseTokenExchangeRequest(params: FormParams): TokenExchangeRequest {
  rejectRepeated(params);
  const grantType = single(params, "grant_type");
  if (grantType === undefined) throw invalidRequest('"grant_type" parameter is required');
  if (grantType !== TOKEN_EXCHANGE_GRANT) throw unsupportedGrantType();

  const parsed = TokenExchangeRequestSchema.safeParse({
    subject_token: single(params, "subject_token"),
    subject_token_type: single(params, "subject_token_type"),
    actor_token: single(params, "actor_token"),
    actor_token_type: single(params, "actor_token_type"),
    requested_token_type: single(params, "requested_token_type"),
    resource: values(params, "resource"),
    audience: values(params, "audience"),
    scope: single(params, "scope"),
    ttl_seconds: single(params, "ttl_seconds"),
    reason: single(params, "reason"),
    task_id: single(params, "task_id"),
    approval_id: single(params, "approval_id"),
  });
  if (!parsed.success) {
    throw invalidRequest(parsed.error.issues[0]?.message ?? "The request is malformed");
  }
  const r = parsed.data;
  return {
    subjectToken: r.subject_token,
    subjectTokenType: r.subject_token_type,
    ...(r.actor_token === undefined ? {} : { actorToken: r.actor_token }),
    ...(r.actor_token_type === undefined ? {} : { actorTokenType: r.actor_token_type }),
    requestedTokenType: r.requested_token_type,
    resources: [...new Set(r.resource)],
    audiences: [...new Set(r.audience)],
    ...(r.scope === undefined ? {} : { scopes: [...new Set(r.scope.split(" "))] }),
    ...(r.ttl_seconds === undefined ? {} : { ttlSeconds: Number(r.ttl_seconds) }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.task_id === undefined ? {} : { taskId: r.task_id }),
    ...(r.approval_id === undefined ? {} : { approvalId: r.approval_id }),
  };
}

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

function values(params: FormParams, name: string): string[] {
  return (params.get(name) ?? []).filter((v) => v !== "");
}

/** `POST /tasks` (Baton's extension): the form of `start_task`. */
const StartTaskFormSchema = z.object({
  subject_token: tokenField("subject_token"),
  subject_token_type: tokenTypeField("subject_token_type"),
  purpose: z
    .string({ error: '"purpose" parameter is required' })
    .min(1)
    .max(MAX_REASON_LENGTH, '"purpose" parameter is too long'),
  scope: z.string().max(4096).regex(SCOPE, '"scope" parameter is malformed').optional(),
  template: z.string().max(64, '"template" parameter is too long').optional(),
  ttl_seconds: z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, '"ttl_seconds" must be a positive integer')
    .optional(),
  max_tokens: z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, '"max_tokens" must be a positive integer')
    .optional(),
});

export function parseStartTaskForm(params: FormParams): StartTaskRequest {
  const parsed = StartTaskFormSchema.safeParse({
    subject_token: single(params, "subject_token"),
    subject_token_type: single(params, "subject_token_type"),
    purpose: single(params, "purpose"),
    scope: single(params, "scope"),
    template: single(params, "template"),
    ttl_seconds: single(params, "ttl_seconds"),
    max_tokens: single(params, "max_tokens"),
  });
  if (!parsed.success)
    throw invalidRequest(parsed.error.issues[0]?.message ?? "The request is malformed");
  const r = parsed.data;
  return {
    subjectToken: r.subject_token,
    subjectTokenType: r.subject_token_type,
    purpose: r.purpose,
    ...(r.scope === undefined ? {} : { scopes: [...new Set(r.scope.split(" "))] }),
    ...(r.template === undefined ? {} : { template: r.template }),
    ...(r.ttl_seconds === undefined ? {} : { ttlSeconds: Number(r.ttl_seconds) }),
    ...(r.max_tokens === undefined ? {} : { maxTokens: Number(r.max_tokens) }),
  };
}

/** The subject token of a form (`/whoami`, `/tasks/{id}/end`), both parameters required. */
export function parsePresentedSubject(params: FormParams): {
  subjectToken: string;
  subjectTokenType: string;
} {
  rejectRepeated(params);
  const subjectToken = single(params, "subject_token");
  const subjectTokenType = single(params, "subject_token_type");
  if (subjectToken === undefined || subjectTokenType === undefined) {
    throw invalidRequest('"subject_token" and "subject_token_type" parameters are required');
  }
  if (subjectToken.length > MAX_TOKEN_LENGTH)
    throw invalidRequest('"subject_token" parameter is too long');
  return { subjectToken, subjectTokenType };
}

/** An optional `task_id` parameter, checked like every other. */
export function optionalTaskId(params: FormParams): string | undefined {
  const value = single(params, "task_id");
  if (value === undefined) return undefined;
  if (!TaskIdField.safeParse(value).success) throw invalidRequest('"task_id" is not a task id');
  return value;
}
