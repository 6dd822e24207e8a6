/**
 * POST /whoami (Baton's extension): what the authenticated agent may do for a subject token:
 * the APIs and scopes it may ask for, whom it may delegate to, the chain its next token would
 * carry. The data behind the `list_apis` and `whoami` tools, for clients of a remote broker.
 *
 * @module http/whoami-endpoint
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import { authenticateClient } from "../exchange/authenticate-client.js";
import { describeSession } from "../exchange/describe-session.js";
import { rejectRepeated, single } from "../exchange/request.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { oauthError, oauthJson } from "./respond.js";

export function whoamiEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const params = await readForm(c);
      rejectRepeated(params);
      const caller = await authenticateClient(
        ctx.deps,
        clientCredentials(params, c.req.header("authorization")),
        ctx.assertionAudiences,
      );
      const token = single(params, "subject_token");
      const type = single(params, "subject_token_type");
      if (token === undefined || type === undefined) {
        throw invalidRequest('"subject_token" and "subject_token_type" parameters are required');
      }
      return oauthJson(c, await describeSession(ctx.deps, caller, token, type));
    } catch (err) {
      ctx.logFailure(err, "whoami");
      return oauthError(c, err);
    }
  };
}
