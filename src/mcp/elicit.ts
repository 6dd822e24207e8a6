/**
 * Asking the human in their own MCP client (elicitation, MCP 2025-11-25): form mode shows the
 * exact grant with approve / deny; a client with URL mode only is sent to the approval page.
 * Only the client's answer counts: no tool argument and no model text can approve anything.
 *
 * @module mcp/elicit
 */

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ApprovalView } from "./backend.js";

export type HumanAnswer = "approved" | "denied" | "undecided";

export interface ToolSession {
  /** Asks the session's human about an approval; `undecided` when the client cannot ask. */
  askHuman(approval: ApprovalView): Promise<HumanAnswer>;
}

export function elicitingSession(server: McpServer): ToolSession {
  return {
    async askHuman(approval) {
      const elicitation = server.server.getClientCapabilities()?.elicitation;
      if (!elicitation) return "undecided";
      // A client that declares elicitation without modes speaks 2025-06-18: form mode.
      const form = elicitation.form !== undefined || elicitation.url === undefined;
      if (form) {
        const answer = await server.server.elicitInput({
          mode: "form",
          message: describeGrant(approval),
          requestedSchema: {
            type: "object",
            properties: {
              decision: {
                type: "string",
                title: "Your decision",
                enum: ["approve", "deny"],
                enumNames: ["Approve this grant", "Deny it"],
              },
            },
            required: ["decision"],
          },
        });
        if (answer.action === "accept")
          return answer.content?.decision === "approve" ? "approved" : "denied";
        return answer.action === "decline" ? "denied" : "undecided";
      }
      // URL mode: the human signs in on the approval page and decides there.
      await server.server.elicitInput({
        mode: "url",
        message: `Approve or deny ${approval.scopes.join(", ")} for ${approval.chain[0]} on the approval page.`,
        url: approval.approval_uri,
        elicitationId: approval.approval_id,
      });
      return "undecided";
    },
  };
}

/** The exact grant, in words: what the human is asked to allow. */
export function describeGrant(a: ApprovalView): string {
  const scopes = a.scopes.map((s) => `  - ${s}: ${a.scope_descriptions[s] ?? ""}`).join("\n");
  const lines = [
    `${a.chain[0]} asks to act for ${a.subject}${a.chain.length > 1 ? ` (delegated by ${a.chain.slice(1).join(" ← ")})` : ""}.`,
    a.target === "ceiling"
      ? "For a task, with these scopes:"
      : `On ${a.target}, with these scopes:`,
    scopes,
    a.ttl === null ? "For the default lifetime." : `For at most ${a.ttl} seconds.`,
    ...(a.task ? [`Inside task ${a.task}.`] : []),
    ...(a.reason === undefined ? [] : [`The agent's stated reason (its own words): "${a.reason}"`]),
  ];
  return lines.join("\n");
}
