/**
 * `request_token`: a fresh access token for one API, narrowed to the scopes asked for; for an API
 * behind its own authorization server, an ID-JAG to redeem there (outside-api.ts).
 *
 * @module mcp/tools/request-token
 */

import { z } from "zod";
import type { ExchangeResult } from "../../exchange/broker.js";
import { approvalRequired, pendingApprovalId, settleApproval } from "./approval-flow.js";
import { idJagResult } from "./outside-api.js";
import {
  ApprovalIdField,
  ApprovalRequiredShape,
  ExchangeInputShape,
  NameField,
} from "./schemas.js";
import { defineTool, exchangeRefusalContext, exchangeRequest, ISSUES } from "./tool.js";
import { TtlCappedField, ttlCapped } from "./ttl.js";

export const requestToken = defineTool({
  name: "request_token",
  title: "Get an API token",
  description:
    "A token for one API with only the scopes you ask for (the fewest the step needs): send it as a " +
    "Bearer token to that API only; ask again when it expires. Pass task_id for a task you opened, " +
    "subject_token if you were given a delegation token. Elevated scopes: " +
    "the user may be asked here, else status approval_required: poll approval_status, then repeat with " +
    "approval_id. An authorization_server API gives id_jag: see its hint. Refused: follow the hint.",
  inputSchema: z
    .object({
      api: NameField(2048).describe("API id or resource URI."),
      ...ExchangeInputShape,
      approval_id: ApprovalIdField,
    })
    .strict(),
  outputSchema: z.object({
    ...ApprovalRequiredShape,
    access_token: z.string().optional(),
    id_jag: z.string().optional(),
    token_type: z.string(),
    expires_in: z.number(),
    scope: z.string(),
    audience: z.string(),
    issued_token_type: z.string(),
    resource: z.string().optional(),
    token_endpoint: z.string().optional(),
    hint: z.string().optional(),
    task_id: z.string().optional(),
    ttl_capped: TtlCappedField,
  }),
  annotations: ISSUES,
  async run(session, input, human) {
    // The token the API takes: an access token, or an ID-JAG for its own server (design §3.4).
    const ask = {
      ...(await exchangeRequest(session, "access", input.api, input)),
      idJagIfOutside: true as const,
    };
    const render = async (out: ExchangeResult) => ({
      ...(out.kind === "id_jag"
        ? await idJagResult(out)
        : {
            access_token: out.token,
            token_type: out.tokenType,
            expires_in: out.expiresIn,
            scope: out.scopes.join(" "),
            audience: input.api,
            issued_token_type: out.issuedTokenType,
            ...(out.txn === undefined ? {} : { task_id: out.txn }),
          }),
      ...ttlCapped(input.ttl_seconds, out.expiresIn),
    });
    const { broker, caller } = session;
    try {
      return await render(await broker.exchange(ask, caller));
    } catch (err) {
      const approvalId = pendingApprovalId(err);
      if (approvalId === undefined) throw err;
      // Rule 6: the user decides in their client when they can; otherwise the agent waits.
      if ((await settleApproval(session, human, approvalId)) === "undecided") {
        return approvalRequired(session, await broker.approvalStatus(approvalId, caller));
      }
      return await render(await broker.exchange({ ...ask, approvalId }, caller));
    }
  },
  refusalContext: exchangeRefusalContext,
});
