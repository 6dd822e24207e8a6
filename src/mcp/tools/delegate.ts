/**
 * `delegate`: a delegation token that one named sub-agent can redeem for its own tokens.
 *
 * @module mcp/tools/delegate
 */

import { z } from "zod";
import { ReasonField, ScopesField, TaskIdField, TokenField, TtlField } from "./schemas.js";
import { defineTool, exchangeRefusalContext, exchangeRequest } from "./tool.js";

export const delegate = defineTool({
  name: "delegate",
  title: "Delegate to a sub-agent",
  description:
    "Hands part of your work to a sub-agent: returns a delegation token that only that agent can use, " +
    "carrying at most the scopes you name (never more than you hold) and expiring no later than your own " +
    "authority. Give the token to the sub-agent; it passes it as subject_token to request_token. Never " +
    "give a sub-agent your own access tokens. Refusals: invalid_target means you may not delegate to that " +
    "agent (the hint lists whom you may); invalid_scope means ask for scopes both of you may hold.",
  inputSchema: z
    .object({
      to_agent: z.string().min(1).max(64).describe('The sub-agent\'s id, e.g. "flight-booker".'),
      scopes: ScopesField,
      ttl_seconds: TtlField,
      reason: ReasonField,
      task_id: TaskIdField,
      subject_token: TokenField.optional().describe(
        "A delegation token you received, to delegate further. Omit to delegate your session's authority.",
      ),
    })
    .strict(),
  outputSchema: z.object({
    delegation_token: z.string(),
    to_agent: z.string(),
    scope: z.string(),
    expires_in: z.number(),
    task_id: z.string().optional().describe("The task the token belongs to, inside a task."),
  }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: false,
  },
  async run(session, input) {
    const request = await exchangeRequest(session, "delegation", input.to_agent, input);
    const out = await session.broker.exchange(request, session.caller);
    return {
      delegation_token: out.token,
      to_agent: input.to_agent,
      scope: out.scopes.join(" "),
      expires_in: out.expiresIn,
      ...(out.txn === undefined ? {} : { task_id: out.txn }),
    };
  },
  refusalContext: exchangeRefusalContext,
});
