/**
 * POST /whoami (Baton's extension): the one discovery answer (issue 16) for the authenticated
 * agent on a subject token: the chain its next token would carry, the delegation the token is
 * (when a sub-agent sends the one it was handed), the task (with `task_id`, or when the token
 * is in one), the APIs and scopes it may ask for, the task templates it may open, whom it may
 * delegate to with what each may receive, and the defaults. The data behind the `whoami` and
 * `list_apis` tools, and what `baton mcp --broker` asks (mcp/remote-broker.ts).
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
