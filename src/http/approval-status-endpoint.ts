/**
 * POST /approvals/{id}/status (Baton's extension): the state of an approval the authenticated
 * agent asked for, and the grant it covers. Behind the `approval_status` tool for clients of a
 * remote broker; OAuth clients simply retry `POST /token` with `approval_id`.
 *
 * @module http/approval-status-endpoint
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import { ApprovalIdField } from "../exchange/broker.js";
import type { HttpContext } from "./context.js";
import { oauthError, oauthJson } from "./respond.js";
import { readClientForm } from "./token-form.js";

export function approvalStatusEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      const { caller } = await readClientForm(ctx, c);
      const id = c.req.param("id") ?? "";
      if (!ApprovalIdField.safeParse(id).success)
        throw invalidRequest("The approval id is malformed");
      return oauthJson(c, await ctx.broker.approvalStatus(id, caller));
    } catch (err) {
      ctx.logFailure(err, "approvals.status");
      return oauthError(c, err);
    }
  };
}
