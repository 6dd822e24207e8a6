/**
 * POST /token: RFC 8693 token exchange. Parse, authenticate the client, call the core, render
 * the RFC 8693 §2.2.1 response. Nothing else happens here.
 *
 * @module http/token-endpoint
 */

import type { Context } from "hono";
import { asBatonError } from "../errors.js";
import type { Caller, ExchangeResult } from "../exchange/broker.js";
import { JWT_BEARER_GRANT } from "../tokens/token-types.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { type FormParams, rejectRepeated, single } from "./form-params.js";
import { parseJwtBearerRequest } from "./jwt-bearer-request.js";
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
      const result = await grant(ctx, params, caller);
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

/**
 * The grant the request names: the JWT bearer grant with an ID-JAG (RFC 7523 §2.1, draft
 * §4.4), or else token exchange (whose parser refuses any other grant type). Client
 * authentication is the same for both. A request that does not even parse is audited too.
 */
async function grant(
  ctx: HttpContext,
  params: FormParams,
  caller: Caller,
): Promise<ExchangeResult> {
  const jwtBearer = single(params, "grant_type") === JWT_BEARER_GRANT;
  let parsed:
    | { readonly jwtBearer: true; readonly request: ReturnType<typeof parseJwtBearerRequest> }
    | { readonly jwtBearer: false; readonly request: ReturnType<typeof parseTokenExchangeRequest> };
  try {
    parsed = jwtBearer
      ? { jwtBearer, request: parseJwtBearerRequest(params, ctx.broker.policy()) }
      : { jwtBearer, request: parseTokenExchangeRequest(params) };
  } catch (err) {
    const error = asBatonError(err);
    ctx.broker.refused(caller, error);
    throw error;
  }
  return parsed.jwtBearer
    ? ctx.broker.redeemIdJag(parsed.request, caller)
    : ctx.broker.exchange(parsed.request, caller);
}
