/**
 * POST /whoami (Baton's extension): what the authenticated agent may do for a subject token:
 * the APIs and scopes it may ask for, whom it may delegate to, the chain its next token would
 * carry. The data behind the `list_apis` and `whoami` tools, for clients of a remote broker.
 *
 * @module http/whoami-endpoint
 */

import type { Context } from "hono";
import { authenticateClient } from "../exchange/authenticate-client.js";
import { describeSession } from "../exchange/describe-session.js";
import { optionalTaskId, parsePresentedSubject } from "../exchange/request.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { oauthError, oauthJson } from "./respond.js";

export function whoamiEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const params = await readForm(c);
      const caller = await authenticateClient(
        ctx.deps,
        clientCredentials(params, c.req.header("authorization")),
        ctx.assertionAudiences,
      );
      const { subjectToken, subjectTokenType } = parsePresentedSubject(params);
      return oauthJson(
        c,
        await describeSession(
          ctx.deps,
          caller,
          subjectToken,
          subjectTokenType,
          optionalTaskId(params),
        ),
      );
    } catch (err) {
      ctx.logFailure(err, "whoami");
      return oauthError(c, err);
    }
  };
}
