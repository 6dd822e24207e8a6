/**
 * `approval_status`: where an approval this agent asked for stands.
 *
 * @module mcp/tools/approval-status
 */

import { z } from "zod";
import { ApprovalIdField } from "./schemas.js";
import { defineTool, READ_ONLY } from "./tool.js";

export const approvalStatus = defineTool({
  name: "approval_status",
  title: "Check an approval",
  description:
    "Where an approval stands: pending (ask again in 5 s or more), approved (repeat the call with " +
    "approval_id), denied (stop, tell the user) or expired (ask anew if needed). Refused: follow the hint.",
  inputSchema: z.object({ approval_id: ApprovalIdField.unwrap() }).strict(),
  outputSchema: z.object({
    approval_id: z.string(),
    status: z.enum(["pending", "approved", "denied", "expired"]),
    expires_in: z.number(),
    target: z.string(),
    scopes: z.array(z.string()),
  }),
  annotations: READ_ONLY,
  async run(session, input) {
    const view = await session.broker.approvalStatus(input.approval_id, session.caller);
    return {
      approval_id: view.approval_id,
      status: view.status,
      expires_in: view.expires_in,
      target: view.target,
      scopes: [...view.scopes],
    };
  },
});
