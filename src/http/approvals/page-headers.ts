/**
 * The headers of every approval page response (design §3.2, rule 6), redirects and errors
 * included: a CSP that allows no script at all and no framing, X-Frame-Options for browsers
 * that predate `frame-ancestors`, no MIME sniffing, no Referer to other sites, never stored.
 *
 * hono's `secureHeaders` writes them, with every header of its own defaults switched off, so
 * the set is exactly this one (test/approvals/approvals-http.test.ts asserts it).
 *
 * @module http/approvals/page-headers
 */

import type { MiddlewareHandler } from "hono";
import { every, except } from "hono/combine";
import { secureHeaders } from "hono/secure-headers";

const security = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: ["'unsafe-inline'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  xContentTypeOptions: "nosniff",
  // Not `no-referrer`: with it, browsers send `Origin: null` on the page's own form POSTs
  // (Fetch, "serializing a request origin"), and the page's CSRF check refuses every decision.
  // `same-origin` still sends no Referer (with approval ids in it) to any other site.
  referrerPolicy: "same-origin",
  crossOriginEmbedderPolicy: false,
  crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  strictTransportSecurity: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
});

/** A page names approvals and carries a CSRF token: no cache keeps it. */
const noStore: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.set("Cache-Control", "no-store");
};

/**
 * For `/approvals/*` (which matches `/approvals` too). The agents' JSON endpoint under the
 * same prefix, `POST /approvals/{id}/status`, is not a page: it keeps its own headers.
 */
export const pageHeaders: MiddlewareHandler = except(
  "/approvals/:id/status",
  every(security, noStore),
);
