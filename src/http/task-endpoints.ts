/**
 * Tasks for clients that do not speak MCP (Baton's extension, design §3.5 over HTTP):
 * `POST /tasks` opens one (the `start_task` tool), `POST /tasks/{id}/end` ends it and every
 * token of its tree (`end_task`). `POST /whoami` with `task_id` shows one; `POST /token` with
 * `task_id` issues inside one. All client-authenticated.
 *
 * @module http/task-endpoints
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import { TaskIdField } from "../exchange/broker.js";
import type { HttpContext } from "./context.js";
import { oauthError, oauthJson } from "./respond.js";
import { parsePresentedSubject, parseStartTaskForm } from "./task-forms.js";
import { readClientForm } from "./token-form.js";

export function startTaskEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const { params, caller } = await readClientForm(ctx, c);
      return oauthJson(c, await ctx.broker.startTask(parseStartTaskForm(params), caller), 201);
    } catch (err) {
      ctx.logFailure(err, "tasks");
      return oauthError(c, err);
    }
  };
}

export function endTaskEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const { params, caller } = await readClientForm(ctx, c);
      const id = c.req.param("id") ?? "";
      if (!TaskIdField.safeParse(id).success) throw invalidRequest("The task id is malformed");
      const request = { taskId: id, ...parsePresentedSubject(params) };
      return oauthJson(c, await ctx.broker.endTask(request, caller));
    } catch (err) {
      ctx.logFailure(err, "tasks.end");
      return oauthError(c, err);
    }
  };
}
