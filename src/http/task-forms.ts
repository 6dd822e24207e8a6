/**
 * The forms of Baton's task and session endpoints (`POST /tasks`, `/tasks/{id}/end`,
 * `/whoami`), parsed once at the edge into the core's request types.
 *
 * @module http/task-forms
 */

import { z } from "zod";
import { invalidRequest } from "../errors.js";
import {
  MAX_REASON_LENGTH,
  MAX_TOKEN_LENGTH,
  type StartTaskRequest,
  TaskIdField,
} from "../exchange/broker.js";
import { type FormParams, rejectRepeated, single } from "./form-params.js";
import { parsedForm, ScopeParam, scopesOf, tokenField, tokenTypeField } from "./token-request.js";

/** `POST /tasks` (Baton's extension): the form of `start_task`. */
const StartTaskFormSchema = z.object({
  subject_token: tokenField("subject_token"),
  subject_token_type: tokenTypeField("subject_token_type"),
  purpose: z
    .string({ error: '"purpose" parameter is required' })
    .min(1)
    .max(MAX_REASON_LENGTH, '"purpose" parameter is too long'),
  scope: ScopeParam,
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
  const r = parsedForm(StartTaskFormSchema, {
    subject_token: single(params, "subject_token"),
    subject_token_type: single(params, "subject_token_type"),
    purpose: single(params, "purpose"),
    scope: single(params, "scope"),
    template: single(params, "template"),
    ttl_seconds: single(params, "ttl_seconds"),
    max_tokens: single(params, "max_tokens"),
  });
  return {
    subjectToken: r.subject_token,
    subjectTokenType: r.subject_token_type,
    purpose: r.purpose,
    ...scopesOf(r.scope),
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
