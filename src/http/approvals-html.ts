/**
 * The approval page's HTML: server-rendered, no JavaScript, every value escaped. What a human
 * approves is shown exactly: the API, each scope with its description, the user, the chain of
 * agents, the task, the lifetime, and the agent's stated reason as plain text.
 *
 * @module http/approvals-html
 */

import type { ApprovalRecord } from "../approvals/approval-store.js";
import type { Policy } from "../policy/types.js";

/** Escapes text for HTML content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

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
  ul.scopes { margin: 0; padding-left: 18px; }
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
  body: string,
  person?: string,
  csrf?: string,
  wide = false,
): string {
  const signOut =
    person === undefined || csrf === undefined
      ? ""
      : `<form method="post" action="/approvals/logout"><input type="hidden" name="csrf" value="${esc(csrf)}">
         <span>${esc(person)}</span> <button type="submit">Sign out</button></form>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Baton</title><style>${STYLE}</style></head>
<body><header><h1>Baton approvals</h1>${signOut}</header><main${wide ? ' class="wide"' : ""}>${body}</main></body></html>`;
}

/**
 * The sign-in card; `next` is the page to return to once signed in (a checked local path), and
 * `provider` the host of the OpenID Provider to sign in with, when one is set up.
 */
export function signInBody(message?: string, next?: string, provider?: string): string {
  const back = next === undefined ? "" : `<input type="hidden" name="next" value="${esc(next)}">`;
  const viaProvider =
    provider === undefined
      ? ""
      : `<p><a class="button" href="/approvals/login/oidc?next=${encodeURIComponent(next ?? "/approvals")}">Sign in with ${esc(provider)}</a></p>`;
  return `${message ? `<p class="notice">${esc(message)}</p>` : ""}
<div class="card"><h2>Sign in to decide approval requests</h2>${viaProvider}
<p>Ask the operator for a one-time link: <code>baton approvals login --as YOUR-ID</code>, and open it here.</p>
<p>Or paste a token from your identity provider that names you:</p>
<form method="post" action="/approvals/login"><input type="text" name="token" autocomplete="off" aria-label="Token">${back}
<p><button type="submit">Sign in</button></p></form></div>`;
}

/** One request, exactly as it would be granted, with approve / deny when it is still pending. */
export function approvalCard(
  policy: Policy,
  r: ApprovalRecord,
  now: number,
  csrf: string,
  pending: boolean,
): string {
  const api = policy.apis.get(r.target);
  const scopes = r.scopes
    .map((s) => `<li><code>${esc(s)}</code> ${esc(policy.scopes.get(s)?.description ?? "")}</li>`)
    .join("");
  // The client that asked; under impersonation it is not in the chain (there is no `act`).
  const before = r.chain[0] === r.client ? r.chain.slice(1) : r.chain;
  const what =
    r.kind === "task"
      ? `a task (${r.target === "ceiling" ? "its ceiling" : `template <code>${esc(r.target)}</code>`})`
      : `<code>${esc(r.target)}</code>${api ? ` <span class="muted">${esc(api.resource)}</span>` : ""}`;
  const rows = [
    ["Agent", `<code>${esc(r.client)}</code>`],
    [
      "Delegated by",
      r.chain.length === 0
        ? `<span class="muted">nobody: it acts as the user itself (impersonation, no <code>act</code>)</span>`
        : before.length === 0
          ? `<span class="muted">nobody: the user's own agent</span>`
          : before.map((a) => `<code>${esc(a)}</code>`).join(" ← "),
    ],
    ["For user", `<code>${esc(r.subject)}</code>`],
    ["Access to", what],
    ["Scopes", `<ul class="scopes">${scopes}</ul>`],
    ["Lifetime", r.ttl === null ? "the default (minutes)" : `at most ${r.ttl} seconds`],
    [
      "Task",
      (r.task ?? r.taskId)
        ? `<code>${esc(r.task ?? r.taskId ?? "")}</code> <a href="/approvals/tasks/${esc(r.task ?? r.taskId ?? "")}">delegation tree</a>`
        : `<span class="muted">none</span>`,
    ],
    ["Expires", `in ${Math.max(0, Math.ceil((r.expiresAt - now) / 60))} min`],
  ]
    .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
    .join("");
  const reason =
    r.reason === undefined
      ? ""
      : `<p class="muted">The agent's stated reason, in its own words:</p><p class="reason">${esc(r.reason)}</p>`;
  const actions = pending
    ? `<form method="post" action="/approvals/${esc(r.id)}/decide" class="actions">
       <input type="hidden" name="csrf" value="${esc(csrf)}">
       <button class="approve" type="submit" name="decision" value="approve">Approve</button>
       <button class="deny" type="submit" name="decision" value="deny">Deny</button></form>`
    : `<p><strong>${esc(r.state)}</strong>${r.decidedBy ? ` by ${esc(r.decidedBy)}` : ""}</p>`;
  return `<section class="card" id="${esc(r.id)}"><h2>Request <code>${esc(r.id)}</code></h2><dl>${rows}</dl>${reason}${actions}</section>`;
}
