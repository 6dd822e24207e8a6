/**
 * The HTTP server of `baton serve`: binding, counting requests in flight, the graceful stop,
 * and the throttled store-error log.
 *
 * @module main/server
 */

import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import { type ServerType, serve } from "@hono/node-server";
import type { Logger } from "../log.js";

export type Fetch = (request: Request) => Response | Promise<Response>;

/** Binds the HTTP server; resolves with the port actually bound (for --port 0). */
export function listen(fetch: Fetch, hostname: string, port: number) {
  return new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, (info) => resolve({ server, port: info.port }));
    server.once("error", reject);
  });
}

/**
 * Counts requests being answered, so a stop can wait for them. Counted at the HTTP server, from
 * the request until its response is written in full (or its connection is gone): an MCP POST
 * answers with an event stream that carries the tool's result after the handler returned. A
 * session's long-lived GET event stream is not a request in flight: it ends with the session.
 */
export class InFlight {
  count = 0;
  #idle: (() => void)[] = [];

  constructor(server: HttpServer) {
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      const listening =
        request.method === "GET" && request.headers.accept?.includes("text/event-stream");
      if (listening) return;
      this.count++;
      response.once("close", () => {
        this.count--;
        if (this.count === 0) for (const wake of this.#idle.splice(0)) wake();
      });
    });
  }

  /** True once nothing is in flight; false if `ms` passed first. */
  drained(ms: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/** What a stop ends, in its order. */
export interface Stopping {
  readonly server: ServerType;
  readonly inFlight: InFlight;
  /** Seconds that requests in flight may take (--shutdown-grace). */
  readonly grace: number;
  readonly log: Logger;
  /** Ends the background work (reloads, key refresh) before anything closes. */
  stopWork(): void;
  /** Ends the MCP sessions, once the requests in flight are done. */
  closeSessions(): Promise<void>;
  /** Closes the adapters (audit log, store), last. */
  closeAdapters(): Promise<void>;
}

/**
 * Graceful stop on SIGINT and SIGTERM: refuse new connections, let requests in flight finish
 * (up to the grace period), then end MCP sessions and close the store. No response is cut off.
 */
export function stopOnSignal(s: Stopping): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    s.log.info({ signal, inFlight: s.inFlight.count }, "stopping: finishing requests in flight");
    s.stopWork();
    const closed = new Promise<void>((resolve) => s.server.close(() => resolve()));
    const finished = await s.inFlight.drained(s.grace * 1000);
    if (!finished) s.log.warn({ inFlight: s.inFlight.count }, "grace period over; closing anyway");
    await s.closeSessions();
    (s.server as HttpServer).closeAllConnections();
    await closed;
    await s.closeAdapters();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/**
 * Store errors, logged without flooding: a Redis outage fails every request, so the first error
 * is logged and then at most one line per interval, with how many were not logged.
 */
export function storeErrorLog(log: Logger, intervalMs = 10_000): (error: unknown) => void {
  let last = 0;
  let unlogged = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      unlogged++;
      return;
    }
    log.error({ err: error, since_last: unlogged }, "store error: requests fail closed (503)");
    last = now;
    unlogged = 0;
  };
}
