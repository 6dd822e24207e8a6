/**
 * What the HTTP edge is handed by the composition root.
 *
 * @module http/context
 */

import type { LoggedEvent } from "../audit/task-tree.js";
import type { Clock } from "../clock.js";
import type { ServingBroker } from "../exchange/broker.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Store } from "../store/store.js";

export interface HttpContext {
  /** The core's front door: every endpoint and page reaches the core through it alone. */
  readonly broker: ServingBroker;
  /**
   * Where the approval page keeps its browser sessions and sign-in links: the broker's store,
   * so that every node knows them (http/approvals/approver-session.ts).
   */
  readonly store: Store;
  /** The page's time: sessions' lifetimes, and what it shows of an approval's. */
  readonly clock: Clock;
  /** Values a client assertion may carry as `aud` (RFC 7523 §3): issuer and endpoint URLs. */
  readonly assertionAudiences: readonly string[];
  /** Logs an unexpected (5xx) failure; the response itself stays generic. */
  readonly logFailure: (err: unknown, endpoint: string) => void;
  /** Origins a browser form may post from (the approval page); the issuer's when absent. */
  readonly allowedOrigins?: ReadonlySet<string>;
  /** The MCP endpoint, when served (handed over by main/compose.ts: http/ never imports mcp/). */
  readonly mcp?: (request: Request) => Promise<Response>;
  /** Served at `/metrics` and fed by every request; without it `/metrics` is not served. */
  readonly metrics?: Metrics;
  /**
   * One task's audit events (`taskEventFilter`), for the delegation tree on the approval page
   * (issue 8). Absent when the audit log goes to stderr: the page then says so.
   */
  readonly readTaskEvents?: (taskId: string) => Promise<readonly LoggedEvent[]>;
  /** BATON_APPROVAL_LOGIN_SECRET: the approval page's client secret at its OpenID Provider. */
  readonly approvalLoginSecret?: string;
}
