/**
 * POST /revoke: RFC 7009. 200 with an empty body whether or not the token was valid (§2.2).
 *
 * @module http/revocation-endpoint
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import { authenticateClient } from "../exchange/authenticate-client.js";
import { rejectRepeated, single } from "../exchange/request.js";
import { revokeToken } from "../exchange/revoke.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { oauthError } from "./respond.js";

export function revocationEndpoint(ctx: HttpContext) {
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
      // RFC 7009 §2.1: token_type_hint is only a hint; an unknown one widens the search.
      await revokeToken(ctx.deps, token, caller);
      return c.body(null, 200, { "Cache-Control": "no-store" });
    } catch (err) {
      ctx.logFailure(err, "revoke");
      return oauthError(c, err);
    }
  };
}
