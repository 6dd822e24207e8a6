/**
 * POST /introspect: RFC 7662. The caller must authenticate as a client (§2.1); a disabled
 * client may (an API's own client never exchanges, it only introspects). What it is told
 * depends on whether it is entitled to the answer (§4, `exchange/introspect.ts`): otherwise
 * `{"active": false}`, the same 200 as for an unknown token.
 *
 * @module http/introspection-endpoint
 */

import type { Context } from "hono";
import type { HttpContext } from "./context.js";
import { oauthError, oauthJson } from "./respond.js";
import { readTokenForm } from "./token-form.js";

export function introspectionEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const { caller, token } = await readTokenForm(ctx, c);
      return oauthJson(c, await ctx.broker.introspect(token, caller));
    } catch (err) {
      ctx.logFailure(err, "introspect");
      return oauthError(c, err);
    }
  };
}
