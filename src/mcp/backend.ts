/**
 * What the MCP tools need from a broker, whichever broker it is: the core in this process, or
 * a running broker over HTTP (`baton mcp --broker URL`). Same calls, same results, so the
 * tools are written once. Refusals are thrown as `BatonError`s carrying the OAuth code.
 *
 * @module mcp/backend
 */

import type { ApprovalView, SessionView, TaskView } from "../exchange/broker.js";

export type {
  ApiView,
  ApprovalView,
  ScopeView,
  SessionView,
  TaskView,
} from "../exchange/broker.js";

export interface ExchangeInput {
  readonly kind: "access" | "delegation";
  /** An API id or resource URI; for a delegation, the sub-agent id. */
  readonly target: string;
  readonly scopes: readonly string[];
  readonly ttlSeconds?: number;
  readonly reason?: string;
  /** A delegation token from a parent agent; the session's own subject token otherwise. */
  readonly subjectToken?: string;
  /** The task to work in (a task this agent opened); tokens already in one carry it. */
  readonly taskId?: string;
  /** A decided approval to redeem (rule 6). */
  readonly approvalId?: string;
}

export interface StartTaskInput {
  readonly purpose: string;
  readonly scopes?: readonly string[];
  readonly template?: string;
  readonly ttlSeconds?: number;
  readonly maxTokens?: number;
}

export interface ExchangeOutput {
  readonly token: string;
  readonly issuedTokenType: string;
  readonly tokenType: string;
  readonly expiresIn: number;
  readonly scopes: readonly string[];
  /** The task the token belongs to (its `txn`), inside a task. */
  readonly taskId?: string;
}

export interface ToolBackend {
  /** The agent's session: what it may ask for, for its subject, now (inside a task, if named). */
  describe(taskId?: string): Promise<SessionView>;
  exchange(input: ExchangeInput): Promise<ExchangeOutput>;
  /**
   * Revokes a token and everything derived from it. True when a live token of this broker was
   * revoked; false when there was none to revoke (malformed, foreign, expired, already
   * revoked): RFC 7009 §2.2 makes that no error.
   */
  revoke(token: string): Promise<boolean>;
  startTask(input: StartTaskInput): Promise<TaskView>;
  /** Ends the task and every token of its tree. */
  endTask(taskId: string): Promise<void>;
  /** An approval this agent asked for: its state and the exact grant. */
  approvalStatus(approvalId: string): Promise<ApprovalView>;
  /**
   * The session's user decides (in their MCP client). Absent where the backend cannot prove
   * who the user is to the broker (a remote broker), so the page or the CLI must decide.
   */
  readonly decideAsUser?: (approvalId: string, decision: "approved" | "denied") => Promise<void>;
}
