/**
 * `delegate`: a delegation token that one named sub-agent can redeem for its own tokens.
 *
 * @module mcp/tools/delegate
 */

import { z } from "zod";
import {
  NameField,
  ReasonField,
  ScopesField,
  TaskIdField,
  TokenField,
  TtlField,
} from "./schemas.js";
import { defineTool, exchangeRefusalContext, exchangeRequest } from "./tool.js";
import { TtlCappedField, ttlCapped } from "./ttl.js";

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
      scopes: ScopesField,
      ttl_seconds: TtlField,
      reason: ReasonField,
      task_id: TaskIdField,
      subject_token: TokenField.optional(),
    })
    .strict(),
  outputSchema: z.object({
    delegation_token: z.string(),
    to_agent: z.string(),
    scope: z.string(),
    expires_in: z.number(),
    task_id: z.string().optional(),
    ttl_capped: TtlCappedField,
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
      ...ttlCapped(input.ttl_seconds, out.expiresIn),
    };
  },
  refusalContext: exchangeRefusalContext,
});
