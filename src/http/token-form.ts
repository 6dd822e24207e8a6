/**
 * The first steps shared by the client-authenticated endpoints: read the form, refuse repeated
 * parameters, authenticate the client (RFC 6749 §2.3; RFC 7662 §2.1; RFC 7009 §2.1).
 *
 * @module http/token-form
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import type { Caller } from "../exchange/broker.js";
import { clientCredentials } from "./client-credentials.js";
import type { HttpContext } from "./context.js";
import { readForm } from "./form.js";
import { type FormParams, rejectRepeated, single } from "./form-params.js";

export async function readClientForm(
  ctx: HttpContext,
  c: Context,
): Promise<{ params: FormParams; caller: Caller }> {
  const params = await readForm(c);
  rejectRepeated(params);
  const caller = await ctx.broker.authenticateClient(
    clientCredentials(params, c.req.header("authorization")),
    ctx.assertionAudiences,
  );
  return { params, caller };
}

/** Introspection and revocation: the client, and the one `token` parameter. */
export async function readTokenForm(
  ctx: HttpContext,
  c: Context,
): Promise<{ caller: Caller; token: string }> {
  const { params, caller } = await readClientForm(ctx, c);
  const token = single(params, "token");
  if (token === undefined) throw invalidRequest('"token" parameter is required');
  // `token_type_hint` is only a hint (RFC 7009 §2.1, RFC 7662 §2.1): Baton finds any of its tokens.
  return { caller, token };
}
