/**
 * Hono middleware: refuse a request unless its bearer token is a valid Baton access token for
 * this API with every scope the route needs. The verified token is `c.get("auth")`.
 *
 *   app.get("/events", requireToken(verifier, ["calendar.read"]), (c) => c.json(c.get("auth")));
 */

import { BearerError, type VerifiedToken, type Verifier } from "baton/verify";
import type { MiddlewareHandler } from "hono";

/** `new Hono<AuthEnv>()` types `c.get("auth")`. */
export interface AuthEnv {
  Variables: { auth: VerifiedToken };
}

export function requireToken(
  verifier: Verifier,
  scopes: readonly string[] = [],
  realm?: string,
): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    let auth: VerifiedToken;
    try {
      auth = await verifier.verify(c.req.header("authorization"), { scopes });
    } catch (err) {
      if (!(err instanceof BearerError)) throw err;
      // RFC 6750 §3: the status, the challenge, and a JSON body that never holds the token.
      const { status, headers, body } = err.toResponse(realm);
      return c.json(body, status, headers);
    }
    c.set("auth", auth);
    return next();
  };
}
