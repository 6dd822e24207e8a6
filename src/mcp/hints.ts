/**
 * Hints a model can act on (design §3.5, issue 16 item 1): each refusal's hint is derived from its
 * own cause, the rule and the facts the core attached (errors.ts), and names the next call and
 * the values to use. No further call to the broker, no echoed input, never a token. "Reconnect"
 * only when the session's own subject token is dead.
 *
 * A refusal from a remote broker (`baton mcp --broker`) carries no rule and no facts: the HTTP
 * body is fixed (design §3.6). Its hint is what the code alone can say (`codeHint`).
 *
 * @module mcp/hints
 */

import type { BatonError, Refusal } from "../errors.js";

export interface RefusalContext {
  readonly tool: string;
  /** True when the call carried its own subject_token (a parent's delegation token). */
  readonly ownSubjectToken?: boolean;
}

export function hintFor(error: BatonError, context: RefusalContext): string {
  return (
    scopeHint(error.refusal, context) ??
    causeHint(error.refusal, context) ??
    capHint(error) ??
    tokenHint(error, context) ??
    codeHint(error)
  );
}

const list = (values: readonly string[]) => values.join(", ");

/** Rule 1: what the request may carry instead, from the bound that refused. */
function scopeHint(refusal: Refusal, context: RefusalContext): string | undefined {
  if (!refusal.rule.startsWith("narrow.scope.") || refusal.facts === undefined) return undefined;
  const { allowed, target } = refusal.facts as { allowed: readonly string[]; target?: string };
  const retry = retryWith(context.tool, target, allowed);
  switch (refusal.rule) {
    case "narrow.scope.delegate":
      return allowed.length > 0
        ? `${target} may receive only scopes both of you may hold: ${list(allowed)}. ${retry}`
        : `${target} may receive none of the scopes you may hold: delegate other work to it, or do this step yourself.`;
    case "narrow.scope.subject":
      return context.ownSubjectToken
        ? `The delegation token you passed carries only: ${list(allowed) || "none of these"}. ${allowed.length > 0 ? retry : ""} For more, ask the agent that delegated to you for a new delegation token.`.trim()
        : `Your session's token carries only: ${list(allowed) || "none of these"}. ${retry}`;
    case "narrow.scope.task":
      return `Outside the task's ceiling (${list(refusal.facts.ceiling)}). ${retry} For more, end_task and call start_task with a wider ceiling.`;
    case "narrow.scope.delegator":
      return `An agent that delegated to you no longer holds some of these. ${retry}`;
    default:
      return retry;
  }
}

function retryWith(tool: string, target: string | undefined, allowed: readonly string[]): string {
  if (allowed.length === 0) {
    return target === undefined || tool === "start_task"
      ? "No scope is allowed here: call whoami to see what this agent may do."
      : `No scope of ${target} is allowed here: call whoami to see what this agent may do.`;
  }
  if (tool === "delegate") return `Call delegate with scopes from: ${list(allowed)}.`;
  if (tool === "start_task") return `Call start_task with scopes from: ${list(allowed)}.`;
  return `Call ${tool} with api ${target} and scopes from: ${list(allowed)}.`;
}

/** Every other cause with a next call of its own: targets, tasks, approvals, revocation. */
function causeHint(refusal: Refusal, context: RefusalContext): string | undefined {
  const again = `Call ${context.tool} again without approval_id`;
  switch (refusal.rule) {
    case "target.unknown":
      return `Call ${context.tool} with api one of: ${list(refusal.facts.apis)} (call whoami for the scopes of each).`;
    case "target.many":
    case "target.resource_form":
      return "Name exactly one API, by its id or its resource URI (call whoami to see them).";
    // Design §3.4: an API behind its own authorization server takes ID-JAGs, the rest access
    // tokens. request_token asks for whichever the API takes; only a policy reload between the
    // broker's answer and the request (remote mode) can cross them, and the next call asks anew.
    case "target.id_jag_only":
      return `That API is behind its own authorization server: it takes an ID-JAG, never an access token. Call ${context.tool} again with the same api: it returns id_jag and where to redeem it.`;
    case "target.not_id_jag":
      return `That API takes access tokens from this broker, not ID-JAGs. Call ${context.tool} again with the same api.`;
    case "target.client_id":
      return "This agent has no client at that API's authorization server (policy client_ids), so it cannot use that API. Do not retry; tell the user.";
    case "delegate.edge":
      return refusal.facts.delegateTo.length > 0
        ? `You may delegate only to: ${list(refusal.facts.delegateTo)}. Call delegate with to_agent one of them.`
        : "This agent may not delegate to anyone: do the step yourself.";
    case "task.template":
      return refusal.facts.templates.length > 0
        ? `Call start_task with template one of: ${list(refusal.facts.templates)}, or give scopes instead (call whoami for each template's ceiling).`
        : "The policy has no task templates: call start_task with scopes instead.";
    case "task.ceiling_source":
      return "Call start_task with exactly one of scopes (the ceiling) or template, not both and not neither.";
    case "task.nested":
      return "Your token is already inside a task: work in it (pass no task_id), or end it before you start another.";
    case "task.unknown":
    case "task.not_opener":
    case "task.mismatch":
    case "task.approval_missing":
      return "That task_id is not one you may name: call again without task_id (a delegation made inside a task already carries it), or call start_task for a task of your own.";
    case "task.ended":
    case "task.deadline":
    case "task.budget":
      return "The task is over (ended, past its deadline, or out of tokens): stop working in it. If the work must go on, call start_task for a new task; call whoami to see where you stand.";
    case "approval.used":
      return `That approval was already used once. ${again} to ask anew.`;
    case "approval.mismatch":
      return `That approval covers a different request. ${again}, or repeat exactly the request it was given for.`;
    case "approval.unknown":
      return context.tool === "approval_status"
        ? "No approval of yours has that id: pass the approval_id an approval_required result gave you."
        : `No approval of yours has that id. ${again} to ask anew.`;
    case "approval.pending":
      return "A human must approve this first: poll approval_status with the approval_id, then call again with it.";
    case "approval.denied":
      return "A human denied this request. Do not retry it; tell the user.";
    case "approval.expired":
      return `The approval expired before anyone decided. ${again}, only if the step is still needed.`;
    case "revoke.not_party":
      return refusal.facts.revokers.length > 0
        ? `This token is not yours to revoke. Only these agents may revoke it: ${list(refusal.facts.revokers)}.`
        : "This token is not yours to revoke: only the agents it was issued to or through may.";
    case "subject.delegated_only":
      return delegatedOnlyHint(context.tool);
    case "client.disabled":
      return "This agent is disabled in the broker's policy. Do not retry; tell the user.";
    default:
      return undefined;
  }
}

/** Policy `delegated_only`: the agent works only under a delegation token it was handed. */
function delegatedOnlyHint(tool: string): string {
  const pass =
    "pass the delegation token the delegating agent gave you as subject_token (its task comes with it)";
  return tool === "start_task"
    ? `This agent works only inside work delegated to it and opens no task of its own: call request_token and ${pass}.`
    : `This agent acts only on a delegation token, never on its user's own: call ${tool} again and ${pass}. Without one, ask the agent that hands you the work to delegate to you.`;
}

/**
 * The cap on open approvals (`max_open_approvals`): it counts pending ones only, so a decision
 * or an expiry frees a slot; Retry-After is when the first pending one expires.
 */
function capHint(error: BatonError): string | undefined {
  if (error.rule !== "approval.cap") return undefined;
  return `Too many of your approval requests are still pending; only pending ones count, and each one decided or expired frees a slot. Ask for your pending approvals to be decided (poll approval_status on each), or wait ${error.headers["Retry-After"]} s for the first to expire, before asking again.`;
}

/** Rules that mean a token of another kind was passed: an API's access token is no subject (rule 3). */
const WRONG_KIND = /^subject\.(claim\.)?(typ|aud)$/;

/** Rules that mean the token itself is dead: expired or revoked (rule 7). */
const DEAD = /^(subject\.(expired|revoked|jwt_expired)|bearer\.(revoked|invalid))$/;

/** A subject token refused (RFC 8693 §2.2.2: one code for every cause). */
function tokenHint(error: BatonError, context: RefusalContext): string | undefined {
  const { rule } = error;
  if (error.code !== "invalid_request" || !/^(subject|chain|actor|bearer)\./.test(rule)) {
    return undefined;
  }
  if (context.ownSubjectToken && WRONG_KIND.test(rule)) {
    return "subject_token takes a delegation token (the delegation_token that delegate returned to the agent that delegated to you), never an access token for an API: pass that one, or ask that agent to call delegate with to_agent set to you.";
  }
  if (context.ownSubjectToken) {
    return "The subject_token you passed was refused (expired, revoked, or not for this agent): ask the agent that delegated to you for a new delegation token.";
  }
  if (DEAD.test(rule)) {
    return "Your session's token has expired or was revoked: ask the user to reconnect.";
  }
  return "Your session's authority does not allow this call: call whoami to see what this agent may do, and do not retry the same call.";
}

/** What the code alone can say: a remote broker's refusal, or a cause with no hint of its own. */
export function codeHint(error: BatonError): string {
  switch (error.code) {
    case "invalid_scope":
      return "Ask for fewer or other scopes: call whoami to see the scopes this agent may ask for.";
    case "invalid_target":
      return "Name one API this agent may use, or a sub-agent it may delegate to: call whoami to see them.";
    case "invalid_request":
      return "The request, its task_id, approval_id or subject token was refused: check the arguments against this tool's schema, then call whoami to see what this agent may do now.";
    case "unauthorized_client":
      return "This agent may not do this. Do not retry; tell the user.";
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
