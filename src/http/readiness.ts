/**
 * `GET /readyz`: can this node serve? It asks the store, as every exchange must (design §4
 * rule 8: no store, no token), so a load balancer stops sending requests while the store is
 * away and sends them again once it answers. `/healthz` stays the liveness check: a node whose
 * store is away is alive, and restarting it would not bring the store back.
 *
 * @module http/readiness
 */

import type { Context } from "hono";
import { BatonError } from "../errors.js";
import type { HttpContext } from "./context.js";

/** A key nothing writes: reading it is a round trip to the backend and nothing more. */
const NO_STORE = { "Cache-Control": "no-store" } as const;

export function readinessEndpoint(ctx: HttpContext) {
  return async (c: Context) => {
    try {
      await ctx.broker.ready();
      return c.json({ status: "ready" }, 200, NO_STORE);
    } catch (err) {
      // A store that cannot answer is the expected failure (and is counted by the store's
      // onError); anything else is a bug worth a log line. Either way: not ready.
      if (!(err instanceof BatonError && err.code === "temporarily_unavailable")) {
        ctx.logFailure(err, "readyz");
      }
      return c.json({ status: "unavailable" }, 503, { ...NO_STORE, "Retry-After": "1" });
    }
  };
}
