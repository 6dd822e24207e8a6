/**
 * `list_apis`: the APIs and scopes this agent may ask for, for its user, now.
 *
 * @module mcp/tools/list-apis
 */

import { z } from "zod";
import { presented } from "../session.js";
import { ApiViewSchema, TaskIdField } from "./schemas.js";
import { defineTool, READ_ONLY } from "./tool.js";

export const listApis = defineTool({
  name: "list_apis",
  title: "List the APIs you may use",
  description:
    "Lists the APIs this agent may get tokens for on behalf of its user, with the scopes it may ask for, " +
    "which of them are elevated (they need a human's approval), and the longest token lifetime. Call it " +
    "before request_token to pick the API id and the fewest scopes the next step needs. Inside a task, " +
    "only what the task's ceiling allows is listed (pass task_id for a task you opened).",
  inputSchema: z.object({ task_id: TaskIdField }).strict(),
  outputSchema: z.object({ agent: z.string(), subject: z.string(), apis: z.array(ApiViewSchema) }),
  annotations: READ_ONLY,
  async run(session, input) {
    const request = {
      ...(await presented(session)),
      ...(input.task_id ? { taskId: input.task_id } : {}),
    };
    const view = await session.broker.describe(request, session.caller);
    return { agent: view.agent, subject: view.subject, apis: view.apis };
  },
});
