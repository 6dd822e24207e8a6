/**
 * POST /whoami (Baton's extension): what the authenticated agent may do for a subject token:
 * the APIs and scopes it may ask for, whom it may delegate to, the chain its next token would
 * carry, and the task (with `task_id`, or when the token is in one). The data behind the
 * `list_apis` and `whoami` tools, for clients of a remote broker.
 *
 * @module http/whoami-endpoint
 */

import type { Context } from "hono";
import type { HttpContext } from "./context.js";
import { oauthError, oauthJson } from "./respond.js";
import { optionalTaskId, parsePresentedSubject } from "./task-forms.js";
import { readClientForm } from "./token-form.js";

export function whoamiEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const { params, caller } = await readClientForm(ctx, c);
      const taskId = optionalTaskId(params);
      const view = await ctx.broker.describe(
        { ...parsePresentedSubject(params), ...(taskId === undefined ? {} : { taskId }) },
        caller,
      );
      return oauthJson(c, view);
    } catch (err) {
      ctx.logFailure(err, "whoami");
      return oauthError(c, err);
    }
  };
}
