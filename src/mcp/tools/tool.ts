/**
 * The one shape every tool module exports (design §7: variants share one export shape and are
 * registered from a list).
 *
 * @module mcp/tools/tool
 */

import type { z } from "zod";
import type { ExchangeInput, ToolBackend } from "../backend.js";
import type { ToolSession } from "../elicit.js";
import type { RefusalContext } from "../hints.js";

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
    backend: ToolBackend,
    input: z.output<Input>,
    session: ToolSession,
  ): Promise<Record<string, unknown>>;
  /** What a refusal hint may use from the input. */
  refusalContext?(input: z.output<Input>): Omit<RefusalContext, "tool" | "backend">;
}

/** Keeps each module's input type while the list holds them all. */
export const defineTool = <Input extends z.ZodObject>(tool: Tool<Input>): Tool =>
  tool as unknown as Tool;

/** Read-only tools: they change nothing and can be called any number of times. */
export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

/** The fields `request_token` and `delegate` share, as the backend's exchange input. */
export function exchangeInput(
  kind: ExchangeInput["kind"],
  target: string,
  input: {
    scopes: readonly string[];
    ttl_seconds?: number | undefined;
    reason?: string | undefined;
    subject_token?: string | undefined;
    task_id?: string | undefined;
    approval_id?: string | undefined;
  },
): ExchangeInput {
  return {
    kind,
    target,
    scopes: input.scopes,
    ...(input.ttl_seconds === undefined ? {} : { ttlSeconds: input.ttl_seconds }),
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.subject_token === undefined ? {} : { subjectToken: input.subject_token }),
    ...(input.task_id === undefined ? {} : { taskId: input.task_id }),
    ...(input.approval_id === undefined ? {} : { approvalId: input.approval_id }),
  };
}

/** What a refusal hint may use from `request_token` and `delegate` input. */
export function exchangeRefusalContext(
  target: string,
  input: {
    scopes: readonly string[];
    subject_token?: string | undefined;
    task_id?: string | undefined;
  },
): Omit<RefusalContext, "tool" | "backend"> {
  return {
    target,
    scopes: input.scopes,
    ownSubjectToken: input.subject_token !== undefined,
    ...(input.task_id === undefined ? {} : { taskId: input.task_id }),
  };
}
