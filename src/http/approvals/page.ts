/**
 * `/approvals`: the approvers' web page (design §3.2, rule 6). Sign in (one-time link or a
 * trusted token), see the pending requests you may decide, approve or deny each one.
 *
 * Defences: `frame-ancestors 'none'` and a strict CSP (no script at all), a `__Host-` cookie
 * (Secure, HttpOnly, SameSite=Strict), and on every POST both an allowed Origin and the
 * session's CSRF token, or 403 and nothing changes.
 *
 * @module http/approvals/page
 */

import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { BatonError } from "../../errors.js";
import {
  type ApproverSession,
  approvalFor,
  csrfMatches,
  endSession,
  pendingFor,
  readSession,
  signInWithLink,
  signInWithToken,
} from "../../exchange/approver-session.js";
import { decideApproval } from "../../exchange/operations/decide-approval.js";
import type { HttpContext } from "../context.js";
import {
  approvalCard,
  continueCard,
  decidedBody,
  type Html,
  messageCard,
  page,
  pendingList,
  signInBody,
} from "./html.js";
import { CALLBACK_PATH, LoginRefused, providerSignIn } from "./oidc-login.js";
import { pageHeaders } from "./page-headers.js";
import { taskTreePage } from "./task-tree-page.js";

const COOKIE = "baton-approver";
/** The `state` of a sign-in at the OpenID Provider, bound to the browser that left. */
const PROVIDER_COOKIE = "baton-approver-login";

export function mountApprovalsPage(app: Hono, ctx: HttpContext): void {
  const { deps } = ctx;
  const origins = ctx.allowedOrigins ?? new Set([deps.issuer]);
  // The page's security headers and no-store, on every response here (http/page-headers.ts).
  app.use("/approvals/*", pageHeaders);

  const html = (c: Context, body: Html, status: 200 | 400 | 403 | 404 | 409 | 503 = 200) =>
    c.html(body, status);
  /** The sign-in card, with the OpenID Provider's button when one is set up (hot-reloaded). */
  const signIn = (message?: string, next?: string) => {
    const login = deps.active().policy.broker.approvalLogin;
    return signInBody(message, next, login ? new URL(login.issuer).host : undefined);
  };
  const provider = providerSignIn(deps, ctx.approvalLoginSecret, (err) =>
    ctx.logFailure(err, "approvals.login"),
  );
  /** Back to the list (or `to`). These responses set or clear the cookie: pageHeaders apply too. */
  const seeOther = (c: Context, to = "/approvals") => c.redirect(to, 303);
  const session = async (c: Context) => readSession(deps, getCookie(c, COOKIE, "host"));
  const setSessionCookie = (c: Context, s: ApproverSession) =>
    setCookie(c, COOKIE, s.id, {
      prefix: "host",
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Strict",
      maxAge: s.expiresAt - deps.clock.now(),
    });
  const signedIn = (c: Context, s: ApproverSession, next?: string) => {
    setSessionCookie(c, s);
    return seeOther(c, returnPath(next));
  };
  /** CSRF: the Origin must be ours and the form must carry the session's token. */
  const guard = (c: Context, s: ApproverSession | undefined, form: Record<string, unknown>) =>
    s !== undefined &&
    origins.has(c.req.header("origin") ?? "") &&
    csrfMatches(s, typeof form.csrf === "string" ? form.csrf : undefined);

  app.get("/approvals", async (c) => {
    const s = await session(c);
    if (!s) return html(c, page("Sign in", signIn()));
    const pending = await pendingFor(deps, s.person);
    const { policy } = deps.active();
    const now = deps.clock.now();
    const body = pendingList(policy, pending, now, s.csrf);
    return html(c, page("Pending approvals", body, s.person, s.csrf));
  });

  app.get("/approvals/login", async (c) => {
    const s = await signInWithLink(deps, c.req.query("token") ?? "");
    return s
      ? signedIn(c, s, c.req.query("next"))
      : html(c, page("Sign in", signIn("That link is not valid (any more).")), 400);
  });

  // Sign-in through the OpenID Provider (http/oidc-login.ts): leave for it…
  app.get("/approvals/login/oidc", async (c) => {
    if (!deps.active().policy.broker.approvalLogin) {
      return html(
        c,
        page("Sign in", signIn("Sign-in with an identity provider is not set up.")),
        404,
      );
    }
    try {
      const { url, state } = await provider.begin(returnPath(c.req.query("next")));
      // Lax, not Strict: the provider sends the browser back with a cross-site navigation.
      setCookie(c, PROVIDER_COOKIE, state, {
        prefix: "host",
        path: "/",
        secure: true,
        httpOnly: true,
        sameSite: "Lax",
        maxAge: 600,
      });
      return seeOther(c, url);
    } catch (err) {
      if (!(err instanceof LoginRefused)) throw err;
      return html(c, page("Sign in", signIn(err.message)), 503);
    }
  });

  // …and come back from it.
  app.get(CALLBACK_PATH, async (c) => {
    const browserState = getCookie(c, PROVIDER_COOKIE, "host");
    deleteCookie(c, PROVIDER_COOKIE, { prefix: "host", path: "/", secure: true });
    try {
      const { session: s, next } = await provider.finish(new URL(c.req.url), browserState);
      setSessionCookie(c, s);
      // The session cookie is SameSite=Strict, and this response ends a navigation the provider
      // started: a redirect would arrive without it. A page of ours moves on instead, as a
      // same-site navigation that carries the cookie.
      const to = returnPath(next);
      c.header("Refresh", `0;url=${to}`);
      return html(c, page("Signed in", continueCard(to), s.person, s.csrf));
    } catch (err) {
      if (!(err instanceof LoginRefused)) throw err;
      return html(c, page("Sign in", signIn(err.message)), 400);
    }
  });

  app.post("/approvals/login", async (c) => {
    if (!origins.has(c.req.header("origin") ?? ""))
      return html(c, page("Forbidden", signIn()), 403);
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const next = typeof form.next === "string" ? form.next : undefined;
    const s = token === "" ? undefined : await signInWithToken(deps, token);
    // A failed attempt keeps where the person was going.
    return s
      ? signedIn(c, s, next)
      : html(
          c,
          page("Sign in", signIn("That token does not sign you in.", next && returnPath(next))),
          400,
        );
  });

  app.post("/approvals/logout", async (c) => {
    const s = await session(c);
    const form = await c.req.parseBody();
    if (!guard(c, s, form)) return html(c, page("Forbidden", signIn()), 403);
    await endSession(deps, (s as ApproverSession).id);
    deleteCookie(c, COOKIE, { prefix: "host", path: "/", secure: true });
    return seeOther(c);
  });

  // Issue 8: a task's delegation tree, for its user and the approvers of its requests.
  app.get("/approvals/tasks/:id", async (c) => {
    const s = await session(c);
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
    const s = await session(c);
    // A link to one request (URL-mode elicitation, the webhook) comes back to it once signed in.
    if (!s) return html(c, page("Sign in", signIn(undefined, c.req.path)));
    const record = await approvalFor(deps, s.person, c.req.param("id"));
    if (!record)
      return html(
        c,
        page("Not found", messageCard("No such request for you."), s.person, s.csrf),
        404,
      );
    const now = deps.clock.now();
    const card = approvalCard(
      deps.active().policy,
      record,
      now,
      s.csrf,
      record.state === "pending" && now < record.expiresAt,
    );
    return html(c, page("Approval request", card, s.person, s.csrf));
  });

  app.post("/approvals/:id/decide", async (c) => {
    const s = await session(c);
    const form = await c.req.parseBody();
    if (!guard(c, s, form))
      return html(
        c,
        page("Forbidden", signIn("Refused: the form did not come from this page.")),
        403,
      );
    const person = (s as ApproverSession).person;
    const decision =
      form.decision === "approve" ? "approved" : form.decision === "deny" ? "denied" : undefined;
    if (!decision) return html(c, page("Bad request", signIn()), 400);
    try {
      const record = await decideApproval(deps, c.req.param("id"), decision, { person }, "web");
      const { csrf } = s as ApproverSession;
      const body = decidedBody(deps.active().policy, record, deps.clock.now(), csrf, decision);
      return html(c, page("Decided", body, person, csrf));
    } catch (err) {
      if (!(err instanceof BatonError) || err.status >= 500) throw err;
      const status = err.status === 403 ? 404 : 409;
      return html(
        c,
        page("Not decided", messageCard(`${err.message}.`), person, (s as ApproverSession).csrf),
        status,
      );
    }
  });
}

/**
 * Where to go once signed in: a request's or a task's page of this site, never anything else
 * (no open redirect: no scheme, no host, no `//`, no `..`); the list otherwise.
 */
export function returnPath(next: string | undefined): string {
  return next !== undefined && /^\/approvals\/(tasks\/)?[A-Za-z0-9_-]{1,64}$/.test(next)
    ? next
    : "/approvals";
}
