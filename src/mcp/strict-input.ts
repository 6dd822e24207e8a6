/**
 * Strict tool input, checked on the message as it came off the wire (design §3.5: "unknown
 * fields are errors, `__proto__` included").
 *
 * The SDK reads a `tools/call` request through a zod record before the tool's own strict
 * schema sees the arguments, and a zod record drops an own `__proto__` key (which JSON.parse
 * makes): the call would go on as if the key had not been sent. So every `tools/call` of one
 * of our tools is checked here first, against that tool's schema: each key by its own name,
 * then the values. A refusal is the same `isError` result as any other refusal
 * (`invalid_request`, a fixed description, a hint naming the fields the tool takes, never the
 * ones it was sent), answered before the SDK sees the request, so the tool never runs.
 *
 * An optional field sent as `null` is taken as absent (issue 20): clients that build strict
 * function schemas (OpenAI's strict mode, others) make every optional field required and
 * nullable, and send `null` for "not given". The key is dropped here, before any check, only
 * where the tool's schema makes the field optional: a `null` for a required field, or for a
 * field the tool does not have, is refused as before. The published schemas stay as they are
 * (a nullable type in each would cost the model's context some 600 characters of `tools/list`).
 *
 * @module mcp/strict-input
 */

import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type {
  JSONRPCMessage,
  JSONRPCResponse,
  MessageExtraInfo,
  RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import { inputHint } from "./hints.js";
import { refusalResult } from "./result.js";
import { TOOLS } from "./tools/index.js";
import type { Tool } from "./tools/tool.js";

const BY_NAME: ReadonlyMap<string, Tool> = new Map(TOOLS.map((t) => [t.name, t]));

/** One description for every input refusal: what was wrong stays out of it (design §3.6). */
const INPUT_REFUSED = {
  error: "invalid_request",
  error_description:
    "Input validation error: the arguments do not match the input schema of the tool",
} as const;

/**
 * Puts the check in front of whatever handler a server installs on `transport` (call it before
 * `connect`): a refused call is answered here and never reaches the server.
 */
export function guardToolInput<T extends Transport>(transport: T): T {
  let deliver: Transport["onmessage"];
  const guarded = (received: JSONRPCMessage, extra?: MessageExtraInfo) => {
    const message = withoutNullOptionals(received);
    const refusal = inputRefusal(message);
    if (refusal === undefined) {
      deliver?.(message, extra);
      return;
    }
    // A tick later, as the SDK answers its own requests.
    void Promise.resolve()
      .then(() => transport.send(refusal))
      .catch((err: unknown) => transport.onerror?.(err as Error));
  };
  Object.defineProperty(transport, "onmessage", {
    configurable: true,
    enumerable: true,
    get: () => (deliver === undefined ? undefined : guarded),
    set: (handler: Transport["onmessage"]) => {
      deliver = handler;
    },
  });
  return transport;
}

/** The `tools/call` of one of our tools, its tool and arguments; undefined for anything else. */
function toolCall(
  message: JSONRPCMessage,
): { tool: Tool; args: Record<string, unknown>; id: RequestId } | undefined {
  if (!("method" in message) || message.method !== "tools/call" || !("id" in message)) {
    return undefined;
  }
  const params = message.params as { name?: unknown; arguments?: unknown } | undefined;
  const tool = typeof params?.name === "string" ? BY_NAME.get(params.name) : undefined;
  const args = params?.arguments ?? {};
  // An unknown tool, or arguments that are not an object: the SDK's own answer stands.
  if (!tool || typeof args !== "object" || args === null || Array.isArray(args)) return undefined;
  return { tool, args: args as Record<string, unknown>, id: message.id };
}

/** The message with every optional argument that is `null` left out (a copy; else itself). */
function withoutNullOptionals(message: JSONRPCMessage): JSONRPCMessage {
  const call = toolCall(message);
  if (call === undefined) return message;
  const shape = call.tool.inputSchema.shape as Record<string, { isOptional(): boolean }>;
  const absent = (key: string) =>
    call.args[key] === null && Object.hasOwn(shape, key) && shape[key]?.isOptional() === true;
  if (!Object.keys(call.args).some(absent)) return message;
  const params = (message as { params: Record<string, unknown> }).params;
  const args = Object.fromEntries(Object.entries(call.args).filter(([key]) => !absent(key)));
  return { ...message, params: { ...params, arguments: args } } as JSONRPCMessage;
}

/** The answer to a `tools/call` whose arguments its tool refuses; undefined for anything else. */
function inputRefusal(message: JSONRPCMessage): JSONRPCResponse | undefined {
  const call = toolCall(message);
  if (call === undefined) return undefined;
  const hint = argumentsHint(call.tool, call.args);
  if (hint === undefined) return undefined;
  return { jsonrpc: "2.0", id: call.id, result: refusalResult({ ...INPUT_REFUSED, hint }) };
}

/** A hint when `args` do not fit the tool's strict schema; undefined when they do. */
function argumentsHint(tool: Tool, args: Record<string, unknown>): string | undefined {
  const shape = tool.inputSchema.shape;
  const fields = Object.keys(shape);
  // Own names: `__proto__`, `constructor` or `toString` are unknown keys like any other.
  if (Object.keys(args).some((key) => !Object.hasOwn(shape, key))) {
    return inputHint(tool.name, fields, []);
  }
  const parsed = tool.inputSchema.safeParse(args);
  if (parsed.success) return undefined;
  const wrong = new Set<string>();
  for (const issue of parsed.error.issues) {
    const field = issue.path[0];
    if (typeof field === "string" && Object.hasOwn(shape, field)) wrong.add(field);
  }
  return inputHint(tool.name, fields, [...wrong]);
}
