/**
 * Field schemas the tools share, bounded in length like the HTTP door's parameters.
 *
 * @module mcp/tools/schemas
 */

import { z } from "zod";
import type { TaskView } from "../../exchange/broker.js";
import {
  ApprovalIdField as ApprovalId,
  MAX_REASON_LENGTH,
  TaskIdField as TaskId,
} from "../../exchange/broker.js";
import { MAX_TOKEN_LENGTH } from "../../tokens/verify.js";

export const ScopesField = z
  .array(
    z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "a scope has no spaces or quotes"),
  )
  .min(1)
  .max(32)
  .describe(
    'The scopes to ask for, e.g. ["calendar.read"]. Ask for the fewest the next step needs.',
  );

export const TtlField = z
  .number()
  .int()
  .min(1)
  .max(86_400)
  .optional()
  .describe(
    "Lifetime in seconds. It is shortened to what policy and the parent token allow; omit for the default.",
  );

export const ReasonField = z
  .string()
  .min(1)
  .max(MAX_REASON_LENGTH)
  .optional()
  .describe("One sentence on why this step needs it; recorded in the audit log.");

export const TokenField = z.string().min(1).max(MAX_TOKEN_LENGTH);

export const TaskIdField = TaskId.optional().describe(
  "The task to work in: one you opened with start_task. Omit when your subject token is already in a task.",
);

export const ApprovalIdField = ApprovalId.optional().describe(
  "The approval_id of an approval_required result, once approved: send the same request again with it.",
);

/** The members of an `approval_required` result (design §3.5). */
export const ApprovalRequiredShape = {
  status: z
    .literal("approval_required")
    .optional()
    .describe("Present when a human must approve first."),
  approval_id: z.string().optional(),
  approve_url: z.string().optional().describe("Where a human decides."),
};

/** A task as its agents see it; times are ISO 8601. */
export const TaskViewSchema = z.object({
  task_id: z.string(),
  purpose: z.string(),
  ceiling: z.array(z.string()),
  expires_at: z.string(),
  max_tokens: z.number(),
  tokens_left: z.number(),
  status: z.enum(["active", "approval_required", "ended", "expired"]),
  approval_id: z.string().optional(),
  approve_url: z.string().optional(),
});

/** Renders a core task view for a tool result (design §3.5 names the approval link `approve_url`). */
export function taskResult(view: TaskView): z.output<typeof TaskViewSchema> {
  const { approval_uri, ...rest } = view;
  return {
    ...rest,
    ceiling: [...view.ceiling],
    expires_at: new Date(view.expires_at * 1000).toISOString(),
    ...(approval_uri === undefined ? {} : { approve_url: approval_uri }),
  };
}

export const ScopeViewSchema = z.object({
  name: z.string(),
  description: z.string(),
  elevated: z.boolean(),
});

export const ApiViewSchema = z.object({
  id: z.string(),
  resource: z.string(),
  description: z.string(),
  max_ttl_seconds: z.number(),
  scopes: z.array(ScopeViewSchema),
});

/**
 * The SDK client validates `structuredContent` against the output schema even on an `isError`
 * result, so the declared schema admits both shapes: the tool's own members (present on
 * success) and the refusal's `error`, `error_description` and `hint`.
 */
export function withRefusal(schema: z.ZodObject): z.ZodObject {
  return schema.partial().extend({
    error: z.string().optional().describe("On a refusal: the OAuth error code."),
    error_description: z
      .string()
      .optional()
      .describe("On a refusal: what went wrong, in fixed words."),
    hint: z.string().optional().describe("On a refusal: what to do next."),
  });
}
