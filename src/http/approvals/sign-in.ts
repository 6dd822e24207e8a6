/**
 * Signing in to the approval page and out of it (rule 6: a human decides). Three ways in: a
 * one-time link the operator made (`baton approvals login --as NAME`), the OpenID Provider of
 * `broker.approval_login` (oidc-login.ts), or a user token for the page itself, which the core
 * verifies (`ServingBroker.authenticateApprover`). Each ends in a session of the page
 * (approver-session.ts) held in a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict).
 *
 * @module http/approvals/sign-in
 */

import type { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { HttpContext } from "../context.js";
import { endSession, signInAs, signInWithLink } from "./approver-session.js";
import { continueCard, page } from "./html.js";
import { CALLBACK_PATH, LoginRefused, providerSignIn } from "./oidc-login.js";
import { type PageKit, returnPath } from "./page-kit.js";

/** The `state` of a sign-in at the OpenID Provider, bound to the browser that left. */
const PROVIDER_COOKIE = "baton-approver-login";

export function mountSignIn(app: Hono, ctx: HttpContext, kit: PageKit): void {
  const { html, signIn } = kit;

  app.get("/approvals/login", async (c) => {
    const s = await signInWithLink(kit.sessions, c.req.query("token") ?? "");
    return s
      ? kit.signedIn(c, s, c.req.query("next"))
      : html(c, page("Sign in", signIn("That link is not valid (any more).")), 400);
  });

  mountProviderSignIn(app, ctx, kit);

  app.post("/approvals/login", async (c) => {
    if (!kit.allowedOrigin(c)) return html(c, page("Forbidden", signIn()), 403);
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const next = typeof form.next === "string" ? form.next : undefined;
    const person = token === "" ? undefined : await ctx.broker.authenticateApprover(token);
    const s = person === undefined ? undefined : await signInAs(kit.sessions, person);
    // A failed attempt keeps where the person was going.
    return s
      ? kit.signedIn(c, s, next)
      : html(
          c,
          page("Sign in", signIn("That token does not sign you in.", next && returnPath(next))),
          400,
        );
  });

  app.post("/approvals/logout", async (c) => {
    const s = await kit.session(c);
    const form = await c.req.parseBody();
    if (!kit.guard(c, s, form)) return html(c, page("Forbidden", signIn()), 403);
    await endSession(kit.sessions, s.id);
    deleteCookie(c, kit.cookieName, { prefix: "host", path: "/", secure: true });
    return kit.seeOther(c);
  });
}

/** Sign-in through the OpenID Provider (oidc-login.ts): leave for it, and come back. */
function mountProviderSignIn(app: Hono, ctx: HttpContext, kit: PageKit): void {
  const { html, signIn } = kit;
  const provider = providerSignIn(ctx.broker, kit.sessions, ctx.approvalLoginSecret, (err) =>
    ctx.logFailure(err, "approvals.login"),
  );

  app.get("/approvals/login/oidc", async (c) => {
    if (!ctx.broker.policy().broker.approvalLogin) {
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
      return kit.seeOther(c, url);
    } catch (err) {
      if (!(err instanceof LoginRefused)) throw err;
      return html(c, page("Sign in", signIn(err.message)), 503);
    }
  });

  app.get(CALLBACK_PATH, async (c) => {
    const browserState = getCookie(c, PROVIDER_COOKIE, "host");
    deleteCookie(c, PROVIDER_COOKIE, { prefix: "host", path: "/", secure: true });
    try {
      const { session: s, next } = await provider.finish(new URL(c.req.url), browserState);
      kit.setSessionCookie(c, s);
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
}
