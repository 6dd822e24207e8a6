/**
 * Tool results: `structuredContent` plus the same as JSON text (MCP 2025-11-25 tools), and
 * refusals as `isError` results with the OAuth code, its fixed description and a hint. A
 * refusal never carries a token, a secret or a stack.
 *
 * @module mcp/result
 */

import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { asBatonError } from "../errors.js";
import { hintFor, type RefusalContext } from "./hints.js";

export function toolResult(out: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
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
