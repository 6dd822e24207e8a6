/**
 * POST /token: RFC 8693 token exchange. Parse, authenticate the client, call the core, render
 * the RFC 8693 §2.2.1 response. Nothing else happens here.
 *
 * @module http/token-endpoint
 */

import type { Context } from "hono";
import { asBatonError } from "../errors.js";
import type { Caller } from "../exchange/broker.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { rejectRepeated } from "./form-params.js";
import { oauthError, oauthJson } from "./respond.js";
import { parseTokenExchangeRequest } from "./token-request.js";

export function tokenEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    let caller: Caller | undefined;
    try {
      const params = await readForm(c);
      rejectRepeated(params);
      const credentials = clientCredentials(params, c.req.header("authorization"));
      caller = await ctx.broker.authenticateClient(credentials, ctx.assertionAudiences);
      let request: ReturnType<typeof parseTokenExchangeRequest>;
      try {
        request = parseTokenExchangeRequest(params);
      } catch (err) {
        const error = asBatonError(err);
        ctx.broker.refused(caller, error);
        throw error;
      }
      const result = await ctx.broker.exchange(request, caller);
      // RFC 8693 §2.2.1. `scope` is always sent: it is what was granted, stated plainly.
      return oauthJson(c, {
        access_token: result.token,
        issued_token_type: result.issuedTokenType,
        token_type: result.tokenType,
        expires_in: result.expiresIn,
        scope: result.scopes.join(" "),
      });
    } catch (err) {
      ctx.logFailure(err, "token");
      return oauthError(c, err);
    }
  };
}
