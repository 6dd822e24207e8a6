/**
 * `end_task`: ends a task and every token of its tree.
 *
 * @module mcp/tools/end-task
 */

import { z } from "zod";
import { presented } from "../session.js";
import { TaskIdField } from "./schemas.js";
import { defineTool, ENDS } from "./tool.js";

export const endTask = defineTool({
  name: "end_task",
  title: "End a task",
  description:
    "Ends a task you opened: every token in it, at any depth, stops working. Call it when the work is " +
    "done or abandoned. Refused: follow the hint.",
  inputSchema: z.object({ task_id: TaskIdField.unwrap() }).strict(),
  outputSchema: z.object({ task_id: z.string(), revoked: z.boolean() }),
  annotations: ENDS,
  async run(session, input) {
    await session.broker.endTask(
      { taskId: input.task_id, ...(await presented(session)) },
      session.caller,
    );
    return { task_id: input.task_id, revoked: true };
  },
});
