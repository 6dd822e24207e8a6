/**
 * POST /revoke: RFC 7009. 200 with an empty body whether or not the token was valid (§2.2).
 *
 * @module http/revocation-endpoint
 */

import type { Context } from "hono";
import type { HttpContext } from "./context.js";
import { oauthError } from "./respond.js";
import { readTokenForm } from "./token-form.js";

export function revocationEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const { caller, token } = await readTokenForm(ctx, c);
      await ctx.broker.revoke(token, caller);
      return c.body(null, 200, { "Cache-Control": "no-store" });
    } catch (err) {
      ctx.logFailure(err, "revoke");
      return oauthError(c, err);
    }
  };
}
