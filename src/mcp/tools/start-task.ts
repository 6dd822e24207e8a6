/**
 * `start_task`: opens a task, an upper bound for a whole tree of agents.
 *
 * @module mcp/tools/start-task
 */

import { z } from "zod";
import { approvalDenied } from "../../errors.js";
import { presented } from "../session.js";
import { pendingTask, settleApproval } from "./approval-flow.js";
import {
  NameField,
  ReasonField,
  ScopesField,
  TaskViewSchema,
  TtlField,
  taskResult,
} from "./schemas.js";
import { defineTool, ISSUES } from "./tool.js";

export const startTask = defineTool({
  name: "start_task",
  title: "Start a task",
  description:
    "Opens a task: a ceiling (scopes or a template), a deadline and a token budget bounding every token " +
    "in it, yours and sub-agents'. Pass its task_id to request_token and delegate; end_task revokes them " +
    "all. approval_required: poll approval_status. Refused: follow the hint.",
  inputSchema: z
    .object({
      purpose: ReasonField.unwrap().describe("Shown to approvers."),
      scopes: ScopesField.optional().describe("The ceiling, or give template."),
      template: NameField(64).optional(),
      ttl_seconds: TtlField.describe("Default 3600 or the template's."),
      max_tokens: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .optional()
        .describe("Token budget. Default 1000."),
    })
    .strict(),
  outputSchema: TaskViewSchema,
  annotations: ISSUES,
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
    if (answer === "undecided") return pendingTask(session, view);
    const request = { ...(await presented(session)), taskId: view.task_id };
    const { task } = await broker.describe(request, caller);
    return { ...taskResult(task ?? view), ...(view.ttl_capped ? { ttl_capped: true } : {}) };
  },
});
