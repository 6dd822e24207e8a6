/**
 * `whoami`: the session's identity: the user, the agent, the chain, what it may still do.
 *
 * @module mcp/tools/whoami
 */

import { z } from "zod";
import { presented } from "../session.js";
import { TaskIdField, TaskViewSchema, taskResult } from "./schemas.js";
import { defineTool, READ_ONLY } from "./tool.js";

export const whoami = defineTool({
  name: "whoami",
  title: "Who am I acting for",
  description:
    "Tells you whom you act for (the subject, usually a person), which agent you are, the chain of agents " +
    "your tokens will carry (you first, then the agents that delegated to you), until when your authority " +
    "lasts, whom you may delegate to, and which scopes you may still ask for per API. Call it when unsure " +
    "of your authority, or after a refusal. Inside a task (or with the task_id of one you opened) it also " +
    "shows the task: its ceiling, deadline and how many tokens are left in its budget.",
  inputSchema: z.object({ task_id: TaskIdField }).strict(),
  outputSchema: z.object({
    subject: z.string(),
    agent: z.string(),
    chain: z.array(z.string()),
    expires_at: z.string(),
    may_delegate_to: z.array(z.string()),
    may_request: z.array(z.object({ api: z.string(), scopes: z.array(z.string()) })),
    task: TaskViewSchema.optional(),
    policy_version: z.string().describe("The version of the broker's policy in force."),
  }),
  annotations: READ_ONLY,
  async run(session, input) {
    const request = {
      ...(await presented(session)),
      ...(input.task_id ? { taskId: input.task_id } : {}),
    };
    const s = await session.broker.describe(request, session.caller);
    return {
      subject: s.subject,
      agent: s.agent,
      chain: [...s.chain],
      expires_at: new Date(s.subject_expires_at * 1000).toISOString(),
      may_delegate_to: [...s.may_delegate_to],
      may_request: s.apis.map((a) => ({ api: a.id, scopes: a.scopes.map((x) => x.name) })),
      ...(s.task ? { task: taskResult(s.task) } : {}),
      policy_version: s.policy_version,
    };
  },
});
