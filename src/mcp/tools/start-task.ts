/**
 * `start_task`: opens a task, an upper bound for a whole tree of agents.
 *
 * @module mcp/tools/start-task
 */

import { z } from "zod";
import { approvalDenied } from "../../errors.js";
import { presented } from "../session.js";
import { settleApproval } from "./approval-flow.js";
import { ReasonField, ScopesField, TaskViewSchema, TtlField, taskResult } from "./schemas.js";
import { defineTool } from "./tool.js";

export const startTask = defineTool({
  name: "start_task",
  title: "Start a task",
  description:
    "Opens a task for a piece of work: a purpose, a scope ceiling, a deadline and a token budget. Every " +
    "token issued in it, to you or to any sub-agent you delegate to, stays under the ceiling, expires by " +
    "the deadline and counts against the budget; end_task ends them all at once. Give the ceiling as " +
    "scopes, or name a policy template. Then pass the returned task_id to request_token and delegate. " +
    "If the ceiling needs a human's approval, the user is asked in this client when possible; otherwise " +
    "status is approval_required: poll approval_status with approval_id, then use the task. " +
    "Refusals: invalid_scope means the ceiling asks for scopes you may not hold (call list_apis).",
  inputSchema: z
    .object({
      purpose: ReasonField.unwrap().describe(
        "What the task is for, in one sentence; shown to approvers and kept in the audit log.",
      ),
      scopes: ScopesField.optional().describe(
        "The ceiling: every scope any token of the task may carry. Or give template.",
      ),
      template: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe("A task template of the policy that sets the ceiling."),
      ttl_seconds: TtlField,
      max_tokens: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .optional()
        .describe("The budget: most tokens the whole task may be issued."),
    })
    .strict(),
  outputSchema: TaskViewSchema,
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: false,
  },
  async run(session, input, human) {
    const { broker, caller } = session;
    const view = await broker.startTask(
      {
        ...(await presented(session)),
        purpose: input.purpose,
        ...(input.scopes === undefined ? {} : { scopes: input.scopes }),
        ...(input.template === undefined ? {} : { template: input.template }),
        ...(input.ttl_seconds === undefined ? {} : { ttlSeconds: input.ttl_seconds }),
        ...(input.max_tokens === undefined ? {} : { maxTokens: input.max_tokens }),
      },
      caller,
    );
    if (view.approval_id === undefined) return taskResult(view);
    // Rule 6: the ceiling waits for a human once; the user decides here when it is theirs to.
    const answer = await settleApproval(session, human, view.approval_id);
    if (answer === "denied") {
      throw approvalDenied();
    }
    if (answer === "undecided") return taskResult(view);
    const request = { ...(await presented(session)), taskId: view.task_id };
    const { task } = await broker.describe(request, caller);
    return taskResult(task ?? view);
  },
});
