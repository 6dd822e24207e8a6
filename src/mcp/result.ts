/**
 * Tool results and refusals (MCP 2025-11-25 tools). A result is its `structuredContent` plus a
 * one-line summary as text, and the token on a line of its own when it carries one: not a second
 * copy of the structure (design §3.5; the result sits in the model's context). The discovery
 * answers (`whoami`, `list_apis`) are the exception: no line can carry what they say, and many
 * agent frameworks show the model the text alone (the AI SDK, OpenAI Agents by default, Mastra:
 * test/frameworks), so their text is the line and then the serialized JSON, as the MCP spec's
 * "Structured content" asks of every tool for backwards compatibility. A refusal is an
 * `isError` result with the OAuth code, its fixed description and a hint, in text and in
 * structure; it never carries a token, a secret or a stack.
 *
 * @module mcp/result
 */

import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { asBatonError } from "../errors.js";
import { hintFor, type RefusalContext } from "./hints.js";

type Out = Record<string, unknown>;

const list = (value: unknown) => (Array.isArray(value) ? value.join(" ") : String(value));
const inTask = (out: Out) => (typeof out.task_id === "string" ? `, task ${out.task_id}` : "");
const capped = (out: Out) => (out.ttl_capped === true ? " (ttl capped)" : "");

/** Each result kind by the members only it has, and its one line; the first match wins. */
const SUMMARIES: readonly [(out: Out) => boolean, (out: Out) => string][] = [
  [
    (o) => typeof o.id_jag === "string",
    (o) =>
      `ID-JAG for ${o.resource} at ${o.audience}: ${o.scope}, expires in ${o.expires_in} s${capped(o)}${inTask(o)}. ${o.hint}`,
  ],
  [
    (o) => typeof o.access_token === "string",
    (o) =>
      `Access token for ${o.audience}: ${o.scope}, expires in ${o.expires_in} s${capped(o)}${inTask(o)}.`,
  ],
  [
    (o) => typeof o.delegation_token === "string",
    (o) =>
      `Delegation token for ${o.to_agent}: ${o.scope}, expires in ${o.expires_in} s${capped(o)}${inTask(o)}. ` +
      (typeof o.handover === "string" ? o.handover : `${o.to_agent} passes it as subject_token.`),
  ],
  [
    (o) => Array.isArray(o.ceiling) && typeof o.task_id === "string",
    (o) =>
      `Task ${o.task_id} ${o.status}: ceiling ${list(o.ceiling)}, until ${o.expires_at}, ` +
      `${o.tokens_left} of ${o.max_tokens} tokens left` +
      (o.status === "approval_required" ? `; poll approval_status ${o.approval_id}.` : "."),
  ],
  [
    (o) => o.status === "approval_required",
    // The hint says where the human decides: the page's URL, or the operator's command where no
    // page is served (embedded stdio), so the line never shows an absent URL.
    (o) =>
      typeof o.hint === "string"
        ? `approval_required: approval ${o.approval_id} waits for a human. ${o.hint}`
        : `approval_required: approval ${o.approval_id} waits for a human; poll approval_status, ` +
          "then repeat the call with approval_id.",
  ],
  [
    (o) => typeof o.target === "string" && typeof o.approval_id === "string",
    (o) => `Approval ${o.approval_id} ${o.status}: ${list(o.scopes)} on ${o.target}.`,
  ],
  [
    (o) => typeof o.revoked === "boolean" && typeof o.task_id === "string",
    (o) => `Task ${o.task_id} ended: every token in it is revoked.`,
  ],
  [
    (o) => typeof o.revoked === "boolean",
    (o) => (o.revoked ? "Revoked, with every token derived from it." : `Not revoked. ${o.hint}`),
  ],
  [
    (o) => Array.isArray(o.chain),
    (o) => `${o.agent} for ${o.subject}, chain ${list(o.chain)}. In full:\n${JSON.stringify(o)}`,
  ],
  [
    (o) => Array.isArray(o.apis),
    (o) =>
      `APIs ${o.agent} may use for ${o.subject}: ${(o.apis as { id?: unknown }[]).map((a) => a.id).join(", ")}. ` +
      `In full:\n${JSON.stringify(o)}`,
  ],
];

/** The one line that sums a result up, then its token (the one thing to copy), if any. */
export function summary(out: Out): string {
  const line = SUMMARIES.find(([matches]) => matches(out))?.[1](out) ?? JSON.stringify(out);
  const token = out.access_token ?? out.delegation_token ?? out.id_jag;
  return typeof token === "string" ? `${line}\n${token}` : line;
}

export function toolResult(out: Out): CallToolResult {
  return { content: [{ type: "text", text: summary(out) }], structuredContent: out };
}

export function toolRefusal(err: unknown, context: RefusalContext): CallToolResult {
  // Unexpected errors become a generic server_error: internals stay in the server log.
  const error = asBatonError(err);
  return refusalResult({
    error: error.code,
    error_description: error.toResponseObject().error_description,
    hint: hintFor(error, context),
  });
}

/** A refusal: the OAuth code, its fixed description and a hint, in text and in structure. */
export interface Refusal {
  readonly error: string;
  readonly error_description: string;
  readonly hint: string;
}

export function refusalResult(refusal: Refusal): CallToolResult {
  return {
    isError: true,
    content: [
      { type: "text", text: `${refusal.error}: ${refusal.error_description}. ${refusal.hint}` },
    ],
    structuredContent: { ...refusal },
  };
}
