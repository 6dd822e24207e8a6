/**
 * Parses an RFC 8693 §2.1 token exchange request from form parameters, once, at the edge,
 * into the core's `TokenExchangeRequest`. The field shapes both doors share (task and approval
 * ids, the longest reason and token) are the core's (exchange/request-fields.ts).
 *
 * @module http/token-request
 */

import { z } from "zod";
import { invalidRequest, unsupportedGrantType } from "../errors.js";
import {
  ApprovalIdField,
  MAX_REASON_LENGTH,
  MAX_TOKEN_LENGTH,
  TaskIdField,
  type TokenExchangeRequest,
} from "../exchange/broker.js";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../tokens/token-types.js";
import { type FormParams, rejectRepeated, single, values } from "./form-params.js";

export const tokenField = (label: string) =>
  z
    .string({ error: `"${label}" parameter is required` })
    .max(MAX_TOKEN_LENGTH, `"${label}" parameter is too long`);

export const tokenTypeField = (label: string) =>
  z
    .string({ error: `"${label}" parameter is required` })
    .max(256, `"${label}" parameter is too long`);

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-delimited. */
export const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** The `scope` parameter of every grant. */
export const ScopeParam = z
  .string()
  .max(4096, '"scope" parameter is too long')
  .regex(SCOPE, '"scope" parameter is malformed')
  .optional();

/** The `reason` extension parameter: the agent's own words, kept in the audit log. */
export const ReasonParam = z
  .string()
  .max(MAX_REASON_LENGTH, '"reason" parameter is too long')
  .optional();

/** The form read through `schema`, or `invalid_request` with the first problem's message. */
export function parsedForm<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw invalidRequest(parsed.error.issues[0]?.message ?? "The request is malformed");
  }
  return parsed.data;
}

/** A `scope` parameter as the core's list: each scope once, in the order sent. */
export const scopesOf = (scope: string | undefined) =>
  scope === undefined ? {} : { scopes: [...new Set(scope.split(" "))] };

export const TokenExchangeRequestSchema = z
  .object({
    subject_token: tokenField("subject_token"),
    subject_token_type: tokenTypeField("subject_token_type"),
    actor_token: tokenField("actor_token").optional(),
    actor_token_type: tokenTypeField("actor_token_type").optional(),
    // An access token for an API, a delegation token for a sub-agent, or an ID-JAG for an API
    // behind its own authorization server (design §3.4).
    requested_token_type: z
      .enum([TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt, TOKEN_TYPE.idJag], {
        error: '"requested_token_type" must be the access_token, jwt or id-jag token type',
      })
      .default(TOKEN_TYPE.accessToken),
    // Kept exactly as sent: its form and its match with the registry are the target's to judge
    // (exchange/target.ts), so that nothing here trims or normalises it first.
    resource: z.array(z.string().max(2048, '"resource" is too long')).max(16, "too many targets"),
    audience: z.array(z.string().max(2048, '"audience" is too long')).max(16, "too many targets"),
    scope: ScopeParam,
    reason: ReasonParam,
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

  const r = parsedForm(TokenExchangeRequestSchema, {
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
  return {
    subjectToken: r.subject_token,
    subjectTokenType: r.subject_token_type,
    ...(r.actor_token === undefined ? {} : { actorToken: r.actor_token }),
    ...(r.actor_token_type === undefined ? {} : { actorTokenType: r.actor_token_type }),
    requestedTokenType: r.requested_token_type,
    resources: [...new Set(r.resource)],
    audiences: [...new Set(r.audience)],
    ...scopesOf(r.scope),
    ...(r.ttl_seconds === undefined ? {} : { ttlSeconds: Number(r.ttl_seconds) }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.task_id === undefined ? {} : { taskId: r.task_id }),
    ...(r.approval_id === undefined ? {} : { approvalId: r.approval_id }),
  };
}
