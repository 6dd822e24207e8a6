/**
 * The discovery answer as the `whoami` and `list_apis` tools render it: compact (it sits in a
 * model's context), with the same APIs section in both. Times are ISO 8601, lifetimes seconds.
 *
 * @module mcp/tools/discovery
 */

import { z } from "zod";
import type { ApiView, PresentedTokens, SessionView } from "../../exchange/broker.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import { presented, type Session } from "../session.js";
import { TaskIdField, TaskViewSchema, TokenField, taskResult } from "./schemas.js";

const names = z.array(z.string());

/** Strict input of both tools: the task to look into, the delegation token to look through. */
export const DiscoveryInput = z
  .object({
    task_id: TaskIdField,
    subject_token: TokenField.optional().describe(
      "A delegation token you were given: shows what it lets you do.",
    ),
  })
  .strict();

export const ApisSchema = z.array(
  z.object({
    id: z.string(),
    resource: z.string(),
    description: z.string(),
    scopes: names,
    elevated: names.optional().describe("Need a human's approval."),
    max_ttl_seconds: z.number(),
    default_ttl_seconds: z.number(),
    default_scopes: names.optional(),
    authorization_server: z
      .string()
      .optional()
      .describe("Behind its own authorization server: request_token returns an ID-JAG for it."),
  }),
);

export const WhoamiSchema = z.object({
  subject: z.string(),
  agent: z.string(),
  chain: names.describe("You first, then who delegated."),
  expires_at: z.string(),
  delegated_only: z
    .literal(true)
    .optional()
    .describe("You act only on a delegation token: pass it as subject_token."),
  delegation: z
    .object({ from: z.string(), scopes: names, expires_at: z.string() })
    .optional()
    .describe("The subject_token's delegation."),
  task: TaskViewSchema.optional(),
  apis: ApisSchema,
  templates: z
    .array(
      z.object({
        id: z.string(),
        description: z.string().optional(),
        ceiling: names,
        max_ttl_seconds: z.number(),
        max_tokens: z.number(),
        approval: z.boolean(),
      }),
    )
    .describe("For start_task."),
  delegate_to: z
    .array(z.object({ agent: z.string(), description: z.string().optional(), scopes: names }))
    .describe("Scopes each may receive."),
  defaults: z.object({
    token_ttl_seconds: z.number(),
    task_ttl_seconds: z.number(),
    task_max_tokens: z.number(),
  }),
  policy_version: z.string(),
});

type Input = z.output<typeof DiscoveryInput>;

/** One core call: the session's view, through the given delegation token if any. */
export async function describeFor(session: Session, input: Input): Promise<SessionView> {
  const tokens: PresentedTokens =
    input.subject_token === undefined
      ? await presented(session)
      : { subjectToken: input.subject_token, subjectTokenType: TOKEN_TYPE.jwt };
  const request = { ...tokens, ...(input.task_id ? { taskId: input.task_id } : {}) };
  return session.broker.describe(request, session.caller);
}

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();
const described = (text: string) => (text === "" ? {} : { description: text });

export function apisResult(apis: readonly ApiView[]): z.output<typeof ApisSchema> {
  return apis.map((api) => {
    const elevated = api.scopes.filter((s) => s.elevated).map((s) => s.name);
    return {
      id: api.id,
      resource: api.resource,
      description: api.description,
      scopes: api.scopes.map((s) => s.name),
      ...(elevated.length > 0 ? { elevated } : {}),
      max_ttl_seconds: api.max_ttl_seconds,
      default_ttl_seconds: api.default_ttl_seconds,
      ...(api.default_scopes.length > 0 ? { default_scopes: [...api.default_scopes] } : {}),
      ...(api.authorization_server === undefined
        ? {}
        : { authorization_server: api.authorization_server }),
    };
  });
}

export function whoamiResult(s: SessionView): z.output<typeof WhoamiSchema> {
  const { delegation, task } = s;
  return {
    subject: s.subject,
    agent: s.agent,
    chain: [...s.chain],
    expires_at: iso(s.subject_expires_at),
    ...(s.delegated_only ? { delegated_only: true as const } : {}),
    ...(delegation
      ? {
          delegation: {
            from: delegation.from,
            scopes: [...delegation.scopes],
            expires_at: iso(delegation.expires_at),
          },
        }
      : {}),
    ...(task ? { task: taskResult(task) } : {}),
    apis: apisResult(s.apis),
    templates: s.templates.map((t) => ({
      id: t.id,
      ...described(t.description),
      ceiling: [...t.ceiling],
      max_ttl_seconds: t.max_ttl_seconds,
      max_tokens: t.max_tokens,
      approval: t.approval,
    })),
    delegate_to: s.delegates.map((d) => ({
      agent: d.agent,
      ...described(d.description),
      scopes: [...d.scopes],
    })),
    defaults: { ...s.defaults },
    policy_version: s.policy_version,
  };
}
