/**
 * `revoke_token`: ends a token and everything derived from it (rule 7).
 *
 * @module mcp/tools/revoke-token
 */

import { z } from "zod";
import { TokenField } from "./schemas.js";
import { defineTool } from "./tool.js";

export const revokeToken = defineTool({
  name: "revoke_token",
  title: "Revoke a token",
  description:
    "Revokes a token you obtained or delegated, and with it every token derived from it (for example, " +
    "revoking a delegation token ends everything the sub-agent got with it). Call it when a step is done " +
    "early or a sub-agent should stop. Revoking an unknown or expired token is not an error. Refusal: " +
    "unauthorized_client means the token is not yours to revoke.",
  inputSchema: z
    .object({ token: TokenField.describe("The access or delegation token to revoke.") })
    .strict(),
  outputSchema: z.object({ revoked: z.boolean() }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: false,
  },
  async run(backend, input) {
    await backend.revoke(input.token);
    // RFC 7009 §2.2: success means the token is no longer usable, whatever it was before.
    return { revoked: true };
  },
});
