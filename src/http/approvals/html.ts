/**
 * The approval page's HTML: server-rendered, no JavaScript. Built with hono's `html` template,
 * which escapes every value put into it; only constant markup (the style sheet) goes in `raw`,
 * and fragments built with `html` nest as they are. What a human approves is shown exactly: the
 * API, each scope with its description, the user, the chain of agents, the task, the lifetime,
 * and the agent's stated reason as plain text.
 *
 * @module http/approvals/html
 */

import { html, raw } from "hono/html";
import type { ApprovalRecord } from "../../approvals/approval-store.js";
import { coveredAgentWords } from "../../approvals/cover-words.js";
import type { Policy } from "../../policy/types.js";

/** Markup built with `html`: its values are escaped, and it nests in `html` unescaped. */
export type Html = ReturnType<typeof html>;

const STYLE = `
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; justify-content: space-between; align-items: center; }
  header h1 { font-size: 18px; margin: 0; }
  header form { margin: 0; }
  main { max-width: 760px; margin: 24px auto; padding: 0 16px; }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 16px 20px; margin-bottom: 16px; }
  .card h2 { font-size: 16px; margin: 0 0 8px; }
  dl { display: grid; grid-template-columns: 9em 1fr; gap: 4px 12px; margin: 0 0 12px; }
  dt { color: #5b6474; }
  dd { margin: 0; }
  code { background: #eef1f5; padding: 1px 5px; border-radius: 4px; }
  ul.scopes, ul.covers { margin: 0; padding-left: 18px; }
  .reason { white-space: pre-wrap; background: #fffbe6; border-left: 3px solid #e5c100; padding: 6px 10px; }
  .actions { display: flex; gap: 8px; }
  button { font: inherit; padding: 6px 16px; border-radius: 6px; border: 1px solid #9aa3b2; background: #fff; cursor: pointer; }
  button.approve { background: #1f7a3d; border-color: #1f7a3d; color: #fff; }
  button.deny { background: #fff; border-color: #b3261e; color: #b3261e; }
  .muted { color: #5b6474; }
  .notice { background: #e8f0fe; border: 1px solid #b6cdfb; border-radius: 8px; padding: 10px 14px; margin-bottom: 16px; }
  input[type=text] { width: 100%; box-sizing: border-box; font: inherit; padding: 6px; }
  main.wide { max-width: 1180px; }
  .tree { overflow-x: auto; }
  .tree svg { display: block; }
  .legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; font-size: 13px; color: #5b6474; }
  .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; border: 1px solid; vertical-align: -2px; }
  .swatch.access { background: #e8f0fe; border-color: #2563eb; }
  .swatch.delegation { background: #f1e8fe; border-color: #7c3aed; }
  .swatch.inactive { background: #eceef2; border-color: #c9ced6; }
`;

/** A whole page; `wide` for content that needs room (the delegation tree). */
export function page(
  title: string,
  body: Html,
  person?: string,
  csrf?: string,
  wide = false,
): Html {
  const signOut =
    person === undefined || csrf === undefined
      ? ""
      : html`<form method="post" action="/approvals/logout"><input type="hidden" name="csrf" value="${csrf}">
         <span>${person}</span> <button type="submit">Sign out</button></form>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Baton</title><style>${raw(STYLE)}</style></head>
<body><header><h1>Baton approvals</h1>${signOut}</header><main${wide ? html` class="wide"` : ""}>${body}</main></body></html>`;
}

/**
 * The sign-in card; `next` is the page to return to once signed in (a checked local path), and
 * `provider` the host of the OpenID Provider to sign in with, when one is set up.
 */
export function signInBody(message?: string, next?: string, provider?: string): Html {
  const back = next === undefined ? "" : html`<input type="hidden" name="next" value="${next}">`;
  const viaProvider =
    provider === undefined
      ? ""
      : html`<p><a class="button" href="/approvals/login/oidc?next=${encodeURIComponent(next ?? "/approvals")}">Sign in with ${provider}</a></p>`;
  return html`${message ? html`<p class="notice">${message}</p>` : ""}
<div class="card"><h2>Sign in to decide approval requests</h2>${viaProvider}
<p>Ask the operator for a one-time link: <code>baton approvals login --as YOUR-ID</code>, and open it here.</p>
<p>Or paste a token from your identity provider that names you:</p>
<form method="post" action="/approvals/login"><input type="text" name="token" autocomplete="off" aria-label="Token">${back}
<p><button type="submit">Sign in</button></p></form></div>`;
}

/** A card of one line of text. */
export function messageCard(text: string): Html {
  return html`<div class="card"><p>${text}</p></div>`;
}

/** The list page: every request waiting for this person, or a note that none is. */
export function pendingList(
  policy: Policy,
  pending: readonly ApprovalRecord[],
  now: number,
  csrf: string,
): Html {
  if (pending.length === 0) {
    return html`<div class="card"><p class="muted">Nothing is waiting for you.</p></div>`;
  }
  const cards = pending.map((r) => approvalCard(policy, r, now, csrf, true));
  return html`<p>${pending.length} request${pending.length === 1 ? "" : "s"} waiting for your decision.</p>${cards}`;
}

/** Once decided: what the person did, above the request as it now stands (no buttons). */
export function decidedBody(
  policy: Policy,
  r: ApprovalRecord,
  now: number,
  csrf: string,
  decision: "approved" | "denied",
): Html {
  return html`<p class="notice">You ${decision} request <code>${r.id}</code>.</p>${approvalCard(policy, r, now, csrf, false)}`;
}

/** The page that ends a sign-in at the OpenID Provider and moves on to `to` (a checked path). */
export function continueCard(to: string): Html {
  return html`<div class="card"><p>Signed in. <a href="${to}">Continue</a></p></div>`;
}

/** One request, exactly as it would be granted, with approve / deny when it is still pending. */
export function approvalCard(
  policy: Policy,
  r: ApprovalRecord,
  now: number,
  csrf: string,
  pending: boolean,
): Html {
  const rows: [string, Html | string][] = [
    ["Agent", html`<code>${r.client}</code>`],
    ["Delegated by", delegatedBy(r)],
    ["For user", html`<code>${r.subject}</code>`],
    ["Access to", accessTo(policy, r)],
    [
      "Scopes",
      html`<ul class="scopes">${r.scopes.map((s) => html`<li><code>${s}</code> ${policy.scopes.get(s)?.description ?? ""}</li>`)}</ul>`,
    ],
    ...covers(r),
    ["Lifetime", r.ttl === null ? "the default (minutes)" : `at most ${r.ttl} seconds`],
    ["Task", taskOf(r)],
    ["Expires", `in ${Math.max(0, Math.ceil((r.expiresAt - now) / 60))} min`],
  ];
  const reason =
    r.reason === undefined
      ? ""
      : html`<p class="muted">The agent's stated reason, in its own words:</p><p class="reason">${r.reason}</p>`;
  const actions = pending
    ? html`<form method="post" action="/approvals/${r.id}/decide" class="actions">
       <input type="hidden" name="csrf" value="${csrf}">
       <button class="approve" type="submit" name="decision" value="approve">Approve</button>
       <button class="deny" type="submit" name="decision" value="deny">Deny</button></form>`
    : html`<p><strong>${r.state}</strong>${r.decidedBy ? ` by ${r.decidedBy}` : ""}</p>`;
  return html`<section class="card" id="${r.id}"><h2>Request <code>${r.id}</code></h2><dl>${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>${reason}${actions}</section>`;
}

/** The agents between the user and the client that asked. */
function delegatedBy(r: ApprovalRecord): Html {
  // The client that asked; under impersonation it is not in the chain (there is no `act`).
  const before = r.chain[0] === r.client ? r.chain.slice(1) : r.chain;
  if (r.chain.length === 0) {
    return html`<span class="muted">nobody: it acts as the user itself (impersonation, no <code>act</code>)</span>`;
  }
  if (before.length === 0) return html`<span class="muted">nobody: the user's own agent</span>`;
  return html`${before.map((a, i) => html`${i === 0 ? "" : " ← "}<code>${a}</code>`)}`;
}

/** The API (and its resource), or the task whose ceiling or template is asked for. */
function accessTo(policy: Policy, r: ApprovalRecord): Html {
  if (r.kind === "task") {
    return html`a task (${r.target === "ceiling" ? "its ceiling" : html`template <code>${r.target}</code>`})`;
  }
  const api = policy.apis.get(r.target);
  return html`<code>${r.target}</code>${api ? html` <span class="muted">${api.resource}</span>` : ""}`;
}

/**
 * Rule 6: a task's one approval lets every agent it names use its elevated scopes, sub-agents
 * included; the approver sees them all. Absent for other requests.
 */
function covers(r: ApprovalRecord): [string, Html][] {
  if (r.covers === undefined) return [];
  return [
    [
      "Covers",
      html`<ul class="covers">${r.covers.map((c) => html`<li>${coveredAgentWords(c)}</li>`)}</ul>`,
    ],
  ];
}

/** The task the request is made in, with a link to its delegation tree. */
function taskOf(r: ApprovalRecord): Html {
  const task = r.task ?? r.taskId;
  return task
    ? html`<code>${task}</code> <a href="/approvals/tasks/${task}">delegation tree</a>`
    : html`<span class="muted">none</span>`;
}
