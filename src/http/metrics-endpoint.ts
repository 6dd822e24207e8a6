/**
 * `GET /metrics` (Prometheus text) and the middleware that times every request.
 *
 * @module http/metrics-endpoint
 */

import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Metrics } from "../metrics/metrics.js";

/** The `route` of a request no route matched: its raw path would be an unbounded label. */
const UNMATCHED = "unmatched";

export function metricsEndpoint(metrics: Metrics) {
  return async (c: Context) => {
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { "Content-Type": contentType, "Cache-Control": "no-store" });
  };
}

/**
 * Times each request to its response (for a stream, to its headers) under the pattern of the
 * route that answered (`/tasks/:id/end`), never the raw path, which holds ids.
 */
export function timeRequests(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const own = c.req.routeIndex;
    await next();
    // After next(), routeIndex points at the last handler that ran; still ours: nothing matched.
    const route = c.req.routeIndex === own ? UNMATCHED : routePath(c);
    metrics.observeRequest(route, c.req.method, c.res.status, (performance.now() - started) / 1000);
  };
}
