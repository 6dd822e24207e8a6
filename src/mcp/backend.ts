/**
 * What the MCP tools need from a broker, whichever broker it is: the core in this process, or
 * a running broker over HTTP (`baton mcp --broker URL`). Same calls, same results, so the
 * tools are written once. Refusals are thrown as `BatonError`s carrying the OAuth code.
 *
 * @module mcp/backend
 */

import type { SessionView } from "../exchange/describe-session.js";
import type { TaskView } from "../exchange/task-view.js";

export type { ApiView, ScopeView, SessionView } from "../exchange/describe-session.js";
export type { TaskView } from "../exchange/task-view.js";

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
}

export interface ToolBackend {
  /** The agent's session: what it may ask for, for its subject, now (inside a task, if named). */
  describe(taskId?: string): Promise<SessionView>;
  exchange(input: ExchangeInput): Promise<ExchangeOutput>;
  /** Revokes a token and everything derived from it (RFC 7009 semantics: unknown is fine). */
  revoke(token: string): Promise<void>;
  startTask(input: StartTaskInput): Promise<TaskView>;
  /** Ends the task and every token of its tree. */
  endTask(taskId: string): Promise<void>;
}
