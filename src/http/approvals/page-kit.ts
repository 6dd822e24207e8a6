/**
 * What every route of the approval page shares: the signed-in session from its cookie, the
 * sign-in card, the CSRF guard and the responses. The routes are in page.ts (seeing and
 * deciding) and sign-in.ts (signing in and out).
 *
 * @module http/approvals/page-kit
 */

import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { HttpContext } from "../context.js";
import {
  type ApproverSession,
  csrfMatches,
  readSession,
  type SessionDeps,
} from "./approver-session.js";
import { type Html, signInBody } from "./html.js";

const COOKIE = "baton-approver";

export type PageStatus = 200 | 400 | 403 | 404 | 409 | 503;

export interface PageKit {
  /** Where the page's sessions and sign-in links are kept. */
  readonly sessions: SessionDeps;
  readonly html: (c: Context, body: Html, status?: PageStatus) => Response | Promise<Response>;
  /** The sign-in card, with the OpenID Provider's button when one is set up (hot-reloaded). */
  readonly signIn: (message?: string, next?: string) => Html;
  /** Back to the list (or `to`). These responses set or clear the cookie: pageHeaders apply too. */
  readonly seeOther: (c: Context, to?: string) => Response;
  readonly session: (c: Context) => Promise<ApproverSession | undefined>;
  readonly setSessionCookie: (c: Context, s: ApproverSession) => void;
  /** Signed in: the cookie set, and on to `next` (a checked local path) or the list. */
  readonly signedIn: (c: Context, s: ApproverSession, next?: string) => Response;
  /** CSRF: the Origin must be ours and the form must carry the session's token. */
  readonly guard: (
    c: Context,
    s: ApproverSession | undefined,
    form: Record<string, unknown>,
  ) => s is ApproverSession;
  /** Whether a browser form may post from this Origin. */
  readonly allowedOrigin: (c: Context) => boolean;
  readonly cookieName: string;
}

export function pageKit(ctx: HttpContext): PageKit {
  const { broker } = ctx;
  const sessions: SessionDeps = { issuer: broker.issuer, store: ctx.store, clock: ctx.clock };
  const origins = ctx.allowedOrigins ?? new Set([broker.issuer]);
  const allowedOrigin = (c: Context) => origins.has(c.req.header("origin") ?? "");
  const seeOther = (c: Context, to = "/approvals") => c.redirect(to, 303);
  const setSessionCookie = (c: Context, s: ApproverSession) =>
    setCookie(c, COOKIE, s.id, {
      prefix: "host",
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Strict",
      maxAge: s.expiresAt - ctx.clock.now(),
    });
  return {
    sessions,
    cookieName: COOKIE,
    html: (c, body, status = 200) => c.html(body, status),
    signIn: (message, next) => {
      const login = broker.policy().broker.approvalLogin;
      return signInBody(message, next, login ? new URL(login.issuer).host : undefined);
    },
    seeOther,
    session: (c) => readSession(sessions, getCookie(c, COOKIE, "host")),
    setSessionCookie,
    signedIn: (c, s, next) => {
      setSessionCookie(c, s);
      return seeOther(c, returnPath(next));
    },
    guard: (c, s, form): s is ApproverSession =>
      s !== undefined &&
      allowedOrigin(c) &&
      csrfMatches(s, typeof form.csrf === "string" ? form.csrf : undefined),
    allowedOrigin,
  };
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
