/**
 * `delegate`: a delegation token that one named sub-agent can redeem for its own tokens.
 *
 * @module mcp/tools/delegate
 */

import { z } from "zod";
import { ExchangeInputShape, NameField } from "./schemas.js";
import { defineTool, exchangeRefusalContext, exchangeRequest, ISSUES } from "./tool.js";
import { TtlCappedField, ttlCapped } from "./ttl.js";

/**
 * How the token reaches the sub-agent (issue 16 item 3): each of its calls' `subject_token`, or
 * its own server's `BATON_SUBJECT_TOKEN`; the task, if any, travels inside the token.
 */
export const handover = (agent: string, inTask: boolean) =>
  `Hand it to ${agent}: it passes it as subject_token on each call, or as BATON_SUBJECT_TOKEN when starting its baton mcp server${inTask ? "; the task comes with it" : ""}.`;

export const delegate = defineTool({
  name: "delegate",
  title: "Delegate to a sub-agent",
  description:
    "Hands work to a sub-agent: a delegation token only to_agent can use, with at most the scopes you " +
    "name and no longer than your authority; it carries your task. Hand it over as its subject_token, " +
    "never your access tokens. Refused: follow the hint.",
  inputSchema: z
    .object({
      to_agent: NameField(64),
      ...ExchangeInputShape,
    })
    .strict(),
  outputSchema: z.object({
    delegation_token: z.string(),
    to_agent: z.string(),
    scope: z.string(),
    expires_in: z.number(),
    task_id: z.string().optional(),
    ttl_capped: TtlCappedField,
    handover: z.string(),
  }),
  annotations: ISSUES,
  async run(session, input) {
    const request = await exchangeRequest(session, "delegation", input.to_agent, input);
    const out = await session.broker.exchange(request, session.caller);
    return {
      delegation_token: out.token,
      to_agent: input.to_agent,
      scope: out.scopes.join(" "),
      expires_in: out.expiresIn,
      ...(out.txn === undefined ? {} : { task_id: out.txn }),
      ...ttlCapped(input.ttl_seconds, out.expiresIn),
      handover: handover(out.audience, out.txn !== undefined),
    };
  },
  refusalContext: exchangeRefusalContext,
});
