/**
 * The one shape every tool module exports (design §7: variants share one export shape and are
 * registered from a list). A tool takes the session (the `Broker`, the caller, the session's
 * subject token), builds the core's request from its input, and renders the result.
 *
 * @module mcp/tools/tool
 */

import type { z } from "zod";
import type { TokenExchangeRequest } from "../../exchange/broker.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import type { ToolSession } from "../elicit.js";
import type { RefusalContext } from "../hints.js";
import type { Session } from "../session.js";
import { DEFAULT_DIALECT } from "./schemas.js";

export interface Tool<Input extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  readonly title: string;
  /** Written for a model: what it is for, when to call it, what to do on each refusal. */
  readonly description: string;
  /** Strict: unknown fields (an `agent` or `user` a model made up) are errors. */
  readonly inputSchema: Input;
  readonly outputSchema: z.ZodObject;
  readonly annotations: {
    readonly readOnlyHint: boolean;
    readonly destructiveHint: boolean;
    readonly idempotentHint: boolean;
    readonly openWorldHint: boolean;
  };
  run(
    session: Session,
    input: z.output<Input>,
    human: ToolSession,
  ): Promise<Record<string, unknown>>;
  /** What a refusal hint may know of the input: which token was used, never any value sent. */
  refusalContext?(input: z.output<Input>): Omit<RefusalContext, "tool">;
}

/**
 * Keeps each module's input type while the list holds them all; the input schema is published
 * without `$schema` (schemas.ts `DEFAULT_DIALECT`).
 */
export const defineTool = <Input extends z.ZodObject>(tool: Tool<Input>): Tool =>
  ({ ...tool, inputSchema: tool.inputSchema.meta(DEFAULT_DIALECT) }) as unknown as Tool;

/** Read-only tools: they change nothing and can be called any number of times. */
export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

/** Tools that issue something new on every call (a token, a delegation, a task). */
export const ISSUES = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
};

/** Tools that end or revoke: destructive, and a repeat changes nothing more. */
export const ENDS = { ...ISSUES, destructiveHint: true, idempotentHint: true };

/** The fields `request_token` and `delegate` share. */
export interface ExchangeFields {
  readonly scopes: readonly string[];
  readonly ttl_seconds?: number | undefined;
  readonly reason?: string | undefined;
  readonly subject_token?: string | undefined;
  readonly task_id?: string | undefined;
  readonly approval_id?: string | undefined;
}

/**
 * The request a client would send to `POST /token` (RFC 8693 §2.1): an access token for an API
 * (`api` by id or resource URI), or a delegation token for a sub-agent (`audience`).
 */
export async function exchangeRequest(
  session: Session,
  kind: "access" | "delegation",
  target: string,
  input: ExchangeFields,
): Promise<TokenExchangeRequest> {
  // RFC 8707: a resource is an absolute URI; only a URI has a scheme and "//". An API id or a
  // sub-agent id is a logical name: `audience` (RFC 8693 §2.1).
  const isUri = target.includes("://");
  return {
    subjectToken: input.subject_token ?? (await session.subjectToken()),
    subjectTokenType: TOKEN_TYPE.jwt,
    requestedTokenType: kind === "delegation" ? TOKEN_TYPE.jwt : TOKEN_TYPE.accessToken,
    resources: isUri ? [target] : [],
    audiences: isUri ? [] : [target],
    scopes: input.scopes,
    ...(input.ttl_seconds === undefined ? {} : { ttlSeconds: input.ttl_seconds }),
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.task_id === undefined ? {} : { taskId: input.task_id }),
    ...(input.approval_id === undefined ? {} : { approvalId: input.approval_id }),
  };
}

/** What a refusal hint may know of `request_token` and `delegate` input. */
export const exchangeRefusalContext = (input: ExchangeFields): Omit<RefusalContext, "tool"> => ({
  ownSubjectToken: input.subject_token !== undefined,
});
