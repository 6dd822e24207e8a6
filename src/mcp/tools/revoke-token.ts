/**
 * `revoke_token`: ends a token and everything derived from it (rule 7).
 *
 * @module mcp/tools/revoke-token
 */

import { z } from "zod";
import { NOTHING_REVOKED_HINT } from "../hints.js";
import { TokenField } from "./schemas.js";
import { defineTool, ENDS } from "./tool.js";

export const revokeToken = defineTool({
  name: "revoke_token",
  title: "Revoke a token",
  description:
    "Revokes a token you obtained or delegated and every token derived from it, e.g. when a sub-agent " +
    "should stop. revoked: false means it was no live Baton token. Refused: follow the hint.",
  inputSchema: z.object({ token: TokenField }).strict(),
  outputSchema: z.object({ revoked: z.boolean(), hint: z.string().optional() }),
  annotations: ENDS,
  async run(session, input) {
    // RFC 7009 §2.2: an invalid token is no error, but the model is told nothing was revoked.
    return (await session.broker.revoke(input.token, session.caller))
      ? { revoked: true }
      : { revoked: false, hint: NOTHING_REVOKED_HINT };
  },
});
