/**
 * `/approvals`: the approvers' web page (design §3.2, rule 6). Sign in (one-time link or a
 * trusted token: sign-in.ts), see the pending requests you may decide, approve or deny each one.
 * What a person may see and decide is the core's to say (`ServingBroker.approvalsFor`,
 * `approvalFor`, `decideAs`); this file renders it.
 *
 * Defences: `frame-ancestors 'none'` and a strict CSP (no script at all), a `__Host-` cookie
 * (Secure, HttpOnly, SameSite=Strict), and on every POST both an allowed Origin and the
 * session's CSRF token, or 403 and nothing changes.
 *
 * @module http/approvals/page
 */

import type { Hono } from "hono";
import { stateOf } from "../../approvals/approval-store.js";
import { BatonError } from "../../errors.js";
import type { HttpContext } from "../context.js";
import { approvalCard, decidedBody, messageCard, page, pendingList } from "./html.js";
import { pageHeaders } from "./page-headers.js";
import { type PageKit, pageKit } from "./page-kit.js";
import { mountSignIn } from "./sign-in.js";
import { taskTreePage } from "./task-tree-page.js";

export function mountApprovalsPage(app: Hono, ctx: HttpContext): void {
  // The page's security headers and no-store, on every response here (http/page-headers.ts).
  app.use("/approvals/*", pageHeaders);
  const kit = pageKit(ctx);
  // Sign-in first: `/approvals/login` is not an approval id.
  mountSignIn(app, ctx, kit);
  mountViews(app, ctx, kit);
  mountDecide(app, ctx, kit);
}

/** The list, one task's delegation tree, one request. */
function mountViews(app: Hono, ctx: HttpContext, kit: PageKit): void {
  const { broker, clock } = ctx;
  const { html, signIn } = kit;

  app.get("/approvals", async (c) => {
    const s = await kit.session(c);
    if (!s) return html(c, page("Sign in", signIn()));
    const now = clock.now();
    const mine = await broker.approvalsFor({ person: s.person });
    const pending = mine.filter((r) => stateOf(r, now) === "pending");
    const body = pendingList(broker.policy(), pending, now, s.csrf);
    return html(c, page("Pending approvals", body, s.person, s.csrf));
  });

  // Issue 8: a task's delegation tree, for its user and the approvers of its requests.
  app.get("/approvals/tasks/:id", async (c) => {
    const s = await kit.session(c);
    if (!s) return html(c, page("Sign in", signIn(undefined, c.req.path)));
    const tree = await taskTreePage(ctx, s.person, c.req.param("id"));
    if (!tree.found)
      return html(
        c,
        page("Not found", messageCard("No such task for you."), s.person, s.csrf),
        404,
      );
    return html(c, page(tree.title, tree.body, s.person, s.csrf, true));
  });

  app.get("/approvals/:id", async (c) => {
    const s = await kit.session(c);
    // A link to one request (URL-mode elicitation, the webhook) comes back to it once signed in.
    if (!s) return html(c, page("Sign in", signIn(undefined, c.req.path)));
    const record = await broker.approvalFor({ person: s.person }, c.req.param("id"));
    if (!record)
      return html(
        c,
        page("Not found", messageCard("No such request for you."), s.person, s.csrf),
        404,
      );
    const now = clock.now();
    const card = approvalCard(
      broker.policy(),
      record,
      now,
      s.csrf,
      record.state === "pending" && now < record.expiresAt,
    );
    return html(c, page("Approval request", card, s.person, s.csrf));
  });
}

/** Approve or deny, once (rule 6): the person signed in, never anyone a form names. */
function mountDecide(app: Hono, ctx: HttpContext, kit: PageKit): void {
  const { broker, clock } = ctx;
  const { html, signIn } = kit;

  app.post("/approvals/:id/decide", async (c) => {
    const s = await kit.session(c);
    const form = await c.req.parseBody();
    if (!kit.guard(c, s, form))
      return html(
        c,
        page("Forbidden", signIn("Refused: the form did not come from this page.")),
        403,
      );
    const { person, csrf } = s;
    const decision =
      form.decision === "approve" ? "approved" : form.decision === "deny" ? "denied" : undefined;
    if (!decision) return html(c, page("Bad request", signIn()), 400);
    try {
      const record = await broker.decideAs({ person }, c.req.param("id"), decision);
      const body = decidedBody(broker.policy(), record, clock.now(), csrf, decision);
      return html(c, page("Decided", body, person, csrf));
    } catch (err) {
      if (!(err instanceof BatonError) || err.status >= 500) throw err;
      const status = err.status === 403 ? 404 : 409;
      return html(c, page("Not decided", messageCard(`${err.message}.`), person, csrf), status);
    }
  });
}
