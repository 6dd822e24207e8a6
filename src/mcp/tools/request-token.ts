/**
 * `request_token`: a fresh access token for one API, narrowed to the scopes asked for.
 *
 * @module mcp/tools/request-token
 */

import { z } from "zod";
import type { ExchangeResult } from "../../exchange/broker.js";
import { approvalRequired, pendingApprovalId, settleApproval } from "./approval-flow.js";
import {
  ApprovalIdField,
  ApprovalRequiredShape,
  ReasonField,
  ScopesField,
  TaskIdField,
  TokenField,
  TtlField,
} from "./schemas.js";
import { defineTool, exchangeRefusalContext, exchangeRequest } from "./tool.js";

export const requestToken = defineTool({
  name: "request_token",
  title: "Get a token for one API",
  description:
    "Gets a short-lived access token for exactly one API, on behalf of your user, with only the scopes you " +
    "ask for. Use the token as 'Authorization: Bearer <access_token>' on that API only, and ask again when " +
    "it expires. If another agent delegated work to you, pass its delegation token as subject_token. " +
    "Inside a task you opened, pass its task_id: the token then stays under the task's ceiling and deadline. " +
    "Refusals: invalid_scope means ask for fewer or other scopes (the hint lists them); invalid_target " +
    "means the API is unknown or not yours (call list_apis); invalid_request means the subject token is " +
    "expired, revoked or not for you (ask your delegator or user for a new one), or the task has ended, " +
    "passed its deadline or spent its token budget. A scope that needs a human's approval: the user is " +
    "asked in this client if it can ask; otherwise the result has status approval_required with an " +
    "approval_id: call approval_status until it is approved, then call request_token again with the same " +
    "arguments plus approval_id. Nothing you write can approve it.",
  inputSchema: z
    .object({
      api: z
        .string()
        .min(1)
        .max(2048)
        .describe('The API id (e.g. "calendar") or its resource URI.'),
      scopes: ScopesField,
      ttl_seconds: TtlField,
      reason: ReasonField,
      task_id: TaskIdField,
      approval_id: ApprovalIdField,
      subject_token: TokenField.optional().describe(
        "A delegation token another agent gave you. Omit to act on your own session's authority.",
      ),
    })
    .strict(),
  outputSchema: z.object({
    ...ApprovalRequiredShape,
    access_token: z.string(),
    token_type: z.string(),
    expires_in: z.number(),
    scope: z.string(),
    audience: z.string(),
    issued_token_type: z.string(),
    task_id: z.string().optional().describe("The task the token belongs to, inside a task."),
  }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: false,
  },
  async run(session, input, human) {
    const ask = await exchangeRequest(session, "access", input.api, input);
    const render = (out: ExchangeResult) => ({
      access_token: out.token,
      token_type: out.tokenType,
      expires_in: out.expiresIn,
      scope: out.scopes.join(" "),
      audience: input.api,
      issued_token_type: out.issuedTokenType,
      ...(out.txn === undefined ? {} : { task_id: out.txn }),
    });
    const { broker, caller } = session;
    try {
      return render(await broker.exchange(ask, caller));
    } catch (err) {
      const approvalId = pendingApprovalId(err);
      if (approvalId === undefined) throw err;
      // Rule 6: the user decides in their client when they can; otherwise the agent waits.
      if ((await settleApproval(session, human, approvalId)) === "undecided") {
        return approvalRequired(await broker.approvalStatus(approvalId, caller));
      }
      return render(await broker.exchange({ ...ask, approvalId }, caller));
    }
  },
  refusalContext: exchangeRefusalContext,
});
