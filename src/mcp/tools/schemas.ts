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
import { TtlCappedField } from "./ttl.js";

/**
 * A text field checked against `full` (its bounds, charset or id format) but published in
 * `tools/list` as a bare string: the bounds are the server's to enforce, not the model's to read
 * (design §3.5: the list sits in the model's context). A value outside them is refused like any
 * other bad input, with `full`'s own messages.
 */
export function bounded(full: z.ZodString): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    for (const issue of full.safeParse(value).error?.issues ?? []) {
      ctx.addIssue({ code: "custom", message: issue.message });
    }
  });
}

/** An id or a name of at most `max` characters (an API, an agent, a template). */
export const NameField = (max: number) => bounded(z.string().min(1).max(max));

const Scope = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "a scope has no spaces or quotes");

export const ScopesField = z
  .array(bounded(Scope))
  .min(1)
  .refine((scopes) => scopes.length <= 32, "at most 32 scopes");

export const TtlField = z
  .number()
  .int()
  .min(1)
  .max(86_400)
  .optional()
  .describe("Default 300 unless policy says otherwise; capped.");

export const ReasonField = bounded(z.string().min(1).max(MAX_REASON_LENGTH)).optional();

export const TokenField = bounded(z.string().min(1).max(MAX_TOKEN_LENGTH));

export const TaskIdField = bounded(TaskId).optional();

export const ApprovalIdField = bounded(ApprovalId).optional();

/** The input fields `request_token` and `delegate` share: one exchange, two targets. */
export const ExchangeInputShape = {
  scopes: ScopesField,
  ttl_seconds: TtlField,
  reason: ReasonField,
  task_id: TaskIdField,
  subject_token: TokenField.optional(),
};

/** The members of an `approval_required` result (design §3.5). */
export const ApprovalRequiredShape = {
  status: z.literal("approval_required").optional(),
  approval_id: z.string().optional(),
  approve_url: z.string().optional(),
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
  ttl_capped: TtlCappedField,
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
 * Meta that drops zod's `"$schema": "…draft-07…"` from a published schema (zod's JSON round trip
 * leaves out the undefined member): MCP 2025-11-25 (SEP-1613) takes a schema without `$schema`
 * as JSON Schema 2020-12, where every keyword the tools use means the same; 46 characters in
 * each of the 16 schemas of `tools/list`.
 */
export const DEFAULT_DIALECT = { $schema: undefined };

/** An object member of a result, published by its type alone: the result names its own fields. */
const anObject = () => z.unknown().meta({ type: "object" });

/** A member as published: nested objects, and arrays of them, by their type alone. */
function outline(member: z.ZodType): z.ZodType {
  const inner = member instanceof z.ZodOptional ? (member.unwrap() as z.ZodType) : member;
  let published = inner;
  if (inner instanceof z.ZodObject) published = anObject();
  if (inner instanceof z.ZodArray && inner.element instanceof z.ZodObject) {
    published = z.array(anObject());
  }
  const { description } = member;
  return description === undefined ? published : published.describe(description);
}

/**
 * The output schema a tool publishes in `tools/list` (design §3.5: the whole list stays under
 * 9,000 characters, it sits in a model's context): the tool's members with their types, nested
 * objects by type alone (the result itself names their fields; the tool module keeps the full
 * shape, which the tests hold each result to).
 *
 * The SDK client (1.x `callTool`) validates `structuredContent` against the output schema even
 * on an `isError` result, although MCP 2025-11-25 reports a tool's failure in the result, not in
 * its schema. So every member is optional (absent on a refusal) and other members are allowed: a
 * refusal's `{error, error_description, hint}` (mcp/result.ts) passes without being described
 * again in all 8 tools.
 */
export function withRefusal(schema: z.ZodObject): z.ZodObject {
  const members = Object.entries(schema.shape as Record<string, z.ZodType>);
  return z
    .looseObject(Object.fromEntries(members.map(([name, m]) => [name, outline(m)])))
    .partial()
    .meta(DEFAULT_DIALECT);
}
