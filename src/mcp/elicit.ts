/**
 * Asking the human in their own MCP client (elicitation, MCP 2025-11-25): form mode shows the
 * exact grant with approve / deny; a client with URL mode is sent to the approval page, and told
 * when the human has decided there.
 * Only the client's answer counts: no tool argument and no model text can approve anything.
 *
 * @module mcp/elicit
 */

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { coverWords } from "../approvals/cover-words.js";
import type { ApprovalView } from "../exchange/broker.js";
import { watchApproval } from "./watch-approval.js";

export type HumanAnswer = "approved" | "denied" | "undecided";

/** How a session's client can ask its human (MCP 2025-11-25 elicitation modes). */
export interface AskModes {
  /** Form mode: a yes/no on the exact grant, answered in the client. */
  readonly form: boolean;
  /** URL mode: the client opens the approval page, where the human signs in and decides. */
  readonly url: boolean;
}

export interface ToolSession {
  modes(): AskModes;
  /** Form mode: the human's answer, for the caller to record as their decision. */
  askHuman(approval: ApprovalView): Promise<HumanAnswer>;
  /**
   * URL mode: sends the human to the approval page. The decision is the page's to record; once
   * it is made, the client is told with `notifications/elicitation/complete` (the approval id
   * is the elicitation id). True when the client opened the page (`accept`).
   */
  sendToPage(approval: ApprovalView, status: () => Promise<ApprovalView>): Promise<boolean>;
}

export function elicitingSession(server: McpServer, watchIntervalMs?: number): ToolSession {
  /** Approvals this session already watches: asking again does not start a second watch. */
  const watching = new Set<string>();
  const watch = (approval: ApprovalView, status: () => Promise<ApprovalView>) => {
    const id = approval.approval_id;
    // Already watched for an earlier question: that watch carries on, whatever this one gets.
    if (watching.has(id)) return () => undefined;
    const complete = server.server.createElicitationCompletionNotifier(id);
    const stop = watchApproval({
      status,
      forSeconds: approval.expires_in,
      alive: () => server.isConnected(),
      onDecided: () => {
        watching.delete(id);
        void complete().catch(() => undefined);
      },
      ...(watchIntervalMs === undefined ? {} : { intervalMs: watchIntervalMs }),
    });
    watching.add(id);
    return () => {
      watching.delete(id);
      stop();
    };
  };
  return {
    modes() {
      const elicitation = server.server.getClientCapabilities()?.elicitation;
      if (!elicitation) return { form: false, url: false };
      // A client that declares elicitation without modes speaks 2025-06-18: form mode.
      return {
        form: elicitation.form !== undefined || elicitation.url === undefined,
        url: elicitation.url !== undefined,
      };
    },

    async askHuman(approval) {
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
    },

    async sendToPage(approval, status) {
      // Watching starts before the client answers: a client may hold its answer until the page
      // is done. The notification goes on the session's own stream (the tool call may be over).
      const stop = watch(approval, status);
      try {
        const answer = await server.server.elicitInput({
          mode: "url",
          // MCP 2025-11-25: the URL carries no personal data and signs no one in; the human
          // signs in on the page, which lets only this approval's approver decide.
          message: `Approve or deny ${approval.scopes.join(", ")} for ${approval.client} on the approval page.${covering(approval)}`,
          url: approval.approval_uri,
          elicitationId: approval.approval_id,
        });
        if (answer.action === "accept") return true;
      } catch (err) {
        stop();
        throw err;
      }
      stop();
      return false;
    },
  };
}

/** The exact grant, in words: what the human is asked to allow. */
export function describeGrant(a: ApprovalView): string {
  const scopes = a.scopes.map((s) => `  - ${s}: ${a.scope_descriptions[s] ?? ""}`).join("\n");
  // The client that asked; under impersonation it is not in the chain (there is no `act`).
  const before = a.chain[0] === a.client ? a.chain.slice(1) : a.chain;
  const lines = [
    `${a.client} asks to act for ${a.subject}${a.chain.length === 0 ? " as the user itself (impersonation)" : ""}${before.length > 0 ? ` (delegated by ${before.join(" ← ")})` : ""}.`,
    a.target === "ceiling"
      ? "For a task, with these scopes:"
      : `On ${a.target}, with these scopes:`,
    scopes,
    a.ttl === null ? "For the default lifetime." : `For at most ${a.ttl} seconds.`,
    ...(a.task ? [`Inside task ${a.task}.`] : []),
    // Rule 6: one approval of a task covers every agent it names, sub-agents included.
    ...(a.covers ? [`This one approval covers: ${coverWords(a.covers)}.`] : []),
    ...(a.reason === undefined ? [] : [`The agent's stated reason (its own words): "${a.reason}"`]),
  ];
  return lines.join("\n");
}

/** A task approval's covered set, as one more sentence of a short message. */
const covering = (a: ApprovalView) => (a.covers ? ` It covers: ${coverWords(a.covers)}.` : "");
