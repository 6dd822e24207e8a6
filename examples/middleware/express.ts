/**
 * Express-style middleware, `(req, res, next)`: refuse a request unless its bearer token is a
 * valid Baton access token for this API with every scope the route needs. The verified token
 * is `req.auth`.
 *
 *   app.get("/flights", requireToken(verifier, ["flights.search"]), (req, res) => res.json(req.auth));
 *
 * Typed structurally, so it needs no `express` import: Express' request and response extend
 * Node's `IncomingMessage` and `ServerResponse`, which is all it uses. It works unchanged with
 * plain `node:http` and with Connect-style frameworks.
 */

import { BearerError, type VerifiedToken, type Verifier } from "baton/verify";

export interface RequestLike {
  readonly headers: { readonly authorization?: string | undefined };
  auth?: VerifiedToken;
}

export interface ResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export type Next = (err?: unknown) => void;

export function requireToken(
  verifier: Verifier,
  scopes: readonly string[] = [],
  realm?: string,
): (req: RequestLike, res: ResponseLike, next: Next) => Promise<void> {
  return async (req, res, next) => {
    try {
      req.auth = await verifier.verify(req.headers.authorization, { scopes });
    } catch (err) {
      if (!(err instanceof BearerError)) return next(err);
      // RFC 6750 §3: the status, the challenge, and a JSON body that never holds the token.
      const { status, headers, body } = err.toResponse(realm);
      res.statusCode = status;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify(body));
      return;
    }
    next();
  };
}
