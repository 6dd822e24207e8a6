/**
 * `/approvals/tasks/:id`: the delegation tree of one task on the approval page (issue 8), so
 * that an approver deciding a grant inside a task sees what the task has been given so far.
 *
 * Who may look: the task's own user (its subject), and any approver who may decide one of the
 * task's approval requests (its ceiling's, or a grant's inside it) while that request is still
 * on record. The same checks as deciding, so a tree shows nothing to someone who could not see
 * the requests themselves (the core's to say: `ServingBroker.mayViewTask`); anyone else gets
 * the same 404 as an unknown id.
 *
 * @module http/approvals/task-tree-page
 */

import { html } from "hono/html";
import { buildTaskTree } from "../../audit/task-tree.js";
import type { HttpContext } from "../context.js";
import type { Html } from "./html.js";
import { taskTreeSvg } from "./task-tree-svg.js";

/** Task ids are `tsk_` and 128 bits in base64url; anything else is not looked up at all. */
const TASK_ID = /^tsk_[A-Za-z0-9_-]{10,64}$/;

export type TreePage =
  | { readonly found: true; readonly title: string; readonly body: Html }
  | { readonly found: false };

export async function taskTreePage(
  ctx: HttpContext,
  person: string,
  taskId: string,
): Promise<TreePage> {
  if (!TASK_ID.test(taskId)) return { found: false };
  const events = (await ctx.readTaskEvents?.(taskId)) ?? [];
  if (!(await ctx.broker.mayViewTask(person, taskId, events))) return { found: false };
  const now = ctx.clock.now();
  const heading = html`<h2>Task <code>${taskId}</code></h2>`;
  if (!ctx.readTaskEvents) {
    return {
      found: true,
      title: "Delegation tree",
      body: html`<div class="card">${heading}<p class="muted">The delegation tree is unavailable: this broker writes its audit log to stderr, and the tree is read from the audit file (<code>--audit PATH</code>).</p></div>`,
    };
  }
  const tree = buildTaskTree(events, taskId, now);
  if (!tree) {
    return {
      found: true,
      title: "Delegation tree",
      body: html`<div class="card">${heading}<p class="muted">The audit log holds nothing of this task yet.</p></div>`,
    };
  }
  const legend = html`<p class="legend"><span class="swatch access"></span>access token (for an API)
    <span class="swatch delegation"></span>delegation token (for a sub-agent)
    <span class="swatch inactive"></span>revoked or expired</p>`;
  return {
    found: true,
    title: "Delegation tree",
    body: html`<div class="card">${heading}<p class="muted">Every token issued in this task, under the token it was exchanged from. Hover a box for its details.</p>${legend}<div class="tree">${taskTreeSvg(tree, now)}</div></div>`,
  };
}
