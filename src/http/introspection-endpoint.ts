/**
 * POST /introspect: RFC 7662. The caller must authenticate as a client (§2.1).
 *
 * @module http/introspection-endpoint
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import { authenticateClient } from "../exchange/authenticate-client.js";
import { introspectToken } from "../exchange/introspect.js";
import { rejectRepeated, single } from "../exchange/request.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { oauthError, oauthJson } from "./respond.js";

export function introspectionEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const params = await readForm(c);
      rejectRepeated(params);
      const caller = await authenticateClient(
        ctx.deps,
        clientCredentials(params, c.req.header("authorization")),
        ctx.assertionAudiences,
      );
      const token = single(params, "token");
      if (token === undefined) throw invalidRequest('"token" parameter is required');
      return oauthJson(c, await introspectToken(ctx.deps, token, caller));
    } catch (err) {
      ctx.logFailure(err, "introspect");
      return oauthError(c, err);
    }
  };
}
