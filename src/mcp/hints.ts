/**
 * Hints a model can act on, for each refusal (design §3.5): what to ask for instead, whom to
 * ask, or when to retry. Built from the OAuth error code, the tool input and the agent's own
 * session view (never from token contents), so both backends give the same hint.
 *
 * @module mcp/hints
 */

import type { BatonError } from "../errors.js";
import type { SessionView, ToolBackend } from "./backend.js";

export interface RefusalContext {
  readonly tool: string;
  /** The API or sub-agent the call named, if any. */
  readonly target?: string;
  readonly scopes?: readonly string[];
  /** True when the call carried its own subject_token (a parent's delegation token). */
  readonly ownSubjectToken?: boolean;
  /** The task the call named, if any. */
  readonly taskId?: string;
  readonly backend: ToolBackend;
}

export async function hintFor(error: BatonError, context: RefusalContext): Promise<string> {
  switch (error.code) {
    case "invalid_scope":
      return scopeHint(context, await view(context));
    case "invalid_target":
      return targetHint(context, await view(context));
    case "invalid_request":
      if (context.taskId !== undefined) {
        return `The task may have ended, passed its deadline or spent its token budget: call whoami with task_id ${context.taskId} to see. Only the agent that opened a task may name it.`;
      }
      return context.ownSubjectToken
        ? "The subject_token was refused: it may be expired, revoked, meant for another agent or another user. Ask the agent that delegated to you for a new delegation token."
        : "The request or your session's subject token was refused. Check the arguments against this tool's schema; if they are right, the user's token may have expired: ask the user to reconnect.";
    case "unauthorized_client":
      return "This agent may not obtain tokens (it is disabled, or may not act on this token). Do not retry; tell the user.";
    case "invalid_client":
      return "The broker could not authenticate this agent. Do not retry; tell the user to check the agent's credentials.";
    case "authorization_pending":
      return "A human must approve this first: poll approval_status with the approval_id, then retry with it.";
    case "access_denied":
      return "A human denied this request. Do not retry it; tell the user.";
    case "expired_token":
      return "The approval expired before anyone decided. Ask again only if the step is still needed.";
    case "temporarily_unavailable":
      return "The broker is briefly unavailable. Retry in a few seconds.";
    case "slow_down":
      return slowDownHint(error);
    default:
      return "Do not retry the same request. Call whoami to see what this agent may do.";
  }
}

/**
 * Arguments the tool's strict schema refuses (design §3.5). It names the tool's own fields
 * only, never a key or a value that was sent.
 */
export function inputHint(
  tool: string,
  fields: readonly string[],
  wrong: readonly string[],
): string {
  if (wrong.length > 0) {
    return `Check ${wrong.join(", ")} against the input schema of ${tool} (required fields, types, lengths, limits), then call ${tool} again.`;
  }
  const takes = fields.length === 0 ? "takes no arguments" : `takes only ${fields.join(", ")}`;
  return `${tool} ${takes}: call it again without the others. Who you act for comes from your session, never from arguments.`;
}

/**
 * `revoke_token` on a string that is no live token of this broker: not an error (RFC 7009
 * §2.2), but nothing was revoked, and the model is told so rather than `revoked: true`.
 */
export const NOTHING_REVOKED_HINT =
  "Nothing to revoke: this is not a live token Baton issued. It is malformed, expired or already revoked (so already unusable), or another issuer's (only that issuer can revoke it). Pass an access_token or delegation_token that request_token or delegate returned; to end a whole task, call end_task with its task_id.";

/**
 * A rate limit or the approval cap (design §3.6): say how long, from Retry-After, so a model
 * waits instead of retrying at once (each attempt counts against the limit again).
 */
function slowDownHint(error: BatonError): string {
  const seconds = Number(error.headers["Retry-After"]);
  const wait =
    Number.isInteger(seconds) && seconds > 0
      ? `wait ${seconds} second${seconds === 1 ? "" : "s"}`
      : "wait a minute";
  return `Too many requests: ${wait} before asking again. Retrying sooner only counts against the limit.`;
}

async function view(context: RefusalContext): Promise<SessionView | undefined> {
  try {
    return await context.backend.describe(context.taskId);
  } catch {
    return undefined;
  }
}

function scopeHint(context: RefusalContext, session: SessionView | undefined): string {
  if (!session)
    return "Ask for fewer scopes: call list_apis to see which ones this agent may ask for.";
  if (context.ownSubjectToken && context.tool !== "delegate") {
    // The session's view is not what bounds this request: the delegation token (and any task
    // it belongs to) is, and its contents are not for hints to read.
    return "Ask only for scopes of this API that the delegation token you passed carries (inside a task, the task's ceiling bounds them too); for more, ask the agent that delegated to you for a new delegation token.";
  }
  if (context.tool === "delegate") {
    const allowed = session.apis.flatMap((a) => a.scopes.map((s) => s.name));
    return `A delegation can carry only scopes both you and the sub-agent may hold. Yours: ${allowed.join(", ") || "none"}.`;
  }
  const api = session.apis.find((a) => a.id === context.target || a.resource === context.target);
  return api
    ? `Request only scopes of ${api.id} that you may hold: ${api.scopes.map((s) => s.name).join(", ") || "none"}.`
    : "Call list_apis to see the APIs and scopes this agent may ask for.";
}

function targetHint(context: RefusalContext, session: SessionView | undefined): string {
  if (context.tool === "delegate") {
    const to = session?.may_delegate_to ?? [];
    return to.length > 0
      ? `You may delegate only to: ${to.join(", ")}.`
      : "This agent may not delegate to anyone.";
  }
  const apis = session?.apis.map((a) => a.id) ?? [];
  return apis.length > 0
    ? `Name one API, by id or resource URI: ${apis.join(", ")}.`
    : "Call list_apis to see the APIs this agent may use.";
}
