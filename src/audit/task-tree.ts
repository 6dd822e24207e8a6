/**
 * The delegation tree of one task, built from its audit events (issue 8, `baton audit --task`,
 * the approval page's picture). Pure: events and `now` in, a typed tree out; no I/O.
 *
 * Every token issued in a task carries its id in `txn` (design §2) and its `exchange.issued`
 * event names its parent by `parent_jti`, so the events alone give the tree. Status follows
 * rule 7: a token is revoked when it, any ancestor, or its task was revoked or ended before it
 * expired; otherwise expired once `now` reaches its `exp`; otherwise active.
 *
 * @module audit/task-tree
 */

import type { TaskRecord } from "../tasks/task-store.js";
import type { AuditEvent, TokenKind } from "./events.js";

/** An event as the log stores it: the time it was recorded (epoch seconds) and the event. */
export type LoggedEvent = AuditEvent & { readonly ts?: number };

export type TaskStatus = "open" | "ended" | "expired";
export type TokenStatus = "active" | "expired" | "revoked";
/** Why a token is revoked: itself, an ancestor (rule 7 cascade), or its task ended. */
export type RevokedCause = "token" | "ancestor" | "task";

/**
 * A task as its events tell it: the facts the store keeps (tasks/task-store.ts), when it
 * started and who ended it, and its status at `now`.
 */
export interface TaskInfo
  extends Pick<
    TaskRecord,
    | "id"
    | "purpose"
    | "agent"
    | "subject"
    | "ceiling"
    | "deadline"
    | "maxTokens"
    | "template"
    | "endedAt"
  > {
  readonly startedAt?: number;
  readonly endedBy?: string;
  readonly status: TaskStatus;
}

export interface TokenNode {
  readonly jti: string;
  readonly parentJti?: string;
  readonly kind: TokenKind;
  /** The agent it was issued to: the current actor (RFC 8693 §4.1). */
  readonly agent: string;
  /** Current actor first. */
  readonly chain: readonly string[];
  /** The API id, or for a delegation token the sub-agent it is for. */
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly exp: number;
  readonly issuedAt?: number;
  readonly status: TokenStatus;
  readonly revoked?: { readonly cause: RevokedCause; readonly at?: number };
  /** Tokens exchanged from this one, in the order they were issued. */
  readonly children: readonly TokenNode[];
}

export interface TaskTree {
  readonly task: TaskInfo;
  /** Tokens whose subject token is not in the task (the opener entering it), in issue order. */
  readonly roots: readonly TokenNode[];
  /** How many tokens the task was issued. */
  readonly tokens: number;
}

/**
 * Keeps the events that matter to one task's tree, reading a log front to back: its start and
 * end, its tokens, revocations of those tokens or of a parent they were exchanged from (a
 * revocation always comes after the issue it names), and the approvals asked for inside it.
 * Stateful: one filter per pass.
 */
export function taskEventFilter(taskId: string): (event: LoggedEvent) => boolean {
  const related = new Set<string>();
  return (event) => {
    switch (event.type) {
      case "task.started":
      case "task.ended":
        return event.task === taskId;
      case "exchange.issued":
        if (event.txn !== taskId) return false;
        related.add(event.jti);
        if (event.parent_jti !== undefined) related.add(event.parent_jti);
        return true;
      case "token.revoked":
        return related.has(event.jti);
      // Not part of the tree, but of who may look at it (the approval page).
      case "approval.requested":
        return event.txn === taskId;
      default:
        return false;
    }
  };
}

/** The tree of `taskId`, or undefined when the events hold no `task.started` for it. */
export function buildTaskTree(
  events: Iterable<LoggedEvent>,
  taskId: string,
  now: number,
): TaskTree | undefined {
  const keep = taskEventFilter(taskId);
  let started: Extract<LoggedEvent, { type: "task.started" }> | undefined;
  let ended: Extract<LoggedEvent, { type: "task.ended" }> | undefined;
  const issued: Extract<LoggedEvent, { type: "exchange.issued" }>[] = [];
  /** Earliest revocation time by jti; `undefined` time when the log had no `ts`. */
  const revokedAt = new Map<string, number | undefined>();
  for (const event of events) {
    if (!keep(event)) continue;
    if (event.type === "task.started") started ??= event;
    else if (event.type === "task.ended") ended ??= event;
    else if (event.type === "exchange.issued") issued.push(event);
    else if (event.type === "token.revoked" && !revokedAt.has(event.jti))
      revokedAt.set(event.jti, event.ts);
  }
  if (!started) return undefined;

  const task = taskInfo(started, ended, now);
  const taskEnd = ended ? { cause: "task" as const, at: ended.ts } : undefined;
  const jtis = new Set(issued.map((e) => e.jti));
  const childrenOf = new Map<string, typeof issued>();
  const roots: typeof issued = [];
  for (const e of issued) {
    const parent = e.parent_jti;
    if (parent !== undefined && jtis.has(parent) && parent !== e.jti) {
      childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), e]);
    } else roots.push(e);
  }

  const node = (e: (typeof issued)[number], inherited: Revocation | undefined): TokenNode => {
    // Rule 7: the earliest of the task's end, an ancestor's revocation and its own applies.
    const own = revokedAt.has(e.jti)
      ? { cause: "token" as const, at: revokedAt.get(e.jti) }
      : undefined;
    const effective = earliest(earliest(taskEnd, inherited), own);
    const children = (childrenOf.get(e.jti) ?? []).map((c) =>
      node(
        c,
        effective && { ...effective, cause: effective.cause === "task" ? "task" : "ancestor" },
      ),
    );
    const revoked = effective !== undefined && (effective.at === undefined || effective.at < e.exp);
    return {
      jti: e.jti,
      ...(e.parent_jti === undefined ? {} : { parentJti: e.parent_jti }),
      kind: e.kind,
      agent: e.agent,
      chain: e.chain,
      audience: e.audience,
      scopes: e.scopes,
      exp: e.exp,
      ...(e.ts === undefined ? {} : { issuedAt: e.ts }),
      status: revoked ? "revoked" : now >= e.exp ? "expired" : "active",
      ...(revoked ? { revoked: effective } : {}),
      children,
    };
  };
  return {
    task,
    roots: roots.map((e) => {
      // A parent outside the task (the user's token the opener entered with) can be revoked too.
      const parent = e.parent_jti;
      const outside =
        parent !== undefined && revokedAt.has(parent)
          ? { cause: "ancestor" as const, at: revokedAt.get(parent) }
          : undefined;
      return node(e, outside);
    }),
    tokens: issued.length,
  };
}

interface Revocation {
  readonly cause: RevokedCause;
  readonly at?: number | undefined;
}

/** The revocation that took effect first; one without a time counts as at the start. */
function earliest(a: Revocation | undefined, b: Revocation | undefined): Revocation | undefined {
  if (!a) return b;
  if (!b) return a;
  return (b.at ?? Number.NEGATIVE_INFINITY) < (a.at ?? Number.NEGATIVE_INFINITY) ? b : a;
}

function taskInfo(
  started: Extract<LoggedEvent, { type: "task.started" }>,
  ended: Extract<LoggedEvent, { type: "task.ended" }> | undefined,
  now: number,
): TaskInfo {
  return {
    id: started.task,
    purpose: started.purpose,
    agent: started.agent,
    subject: started.subject,
    ceiling: started.ceiling,
    deadline: started.deadline,
    maxTokens: started.max_tokens,
    ...(started.template === undefined ? {} : { template: started.template }),
    ...(started.ts === undefined ? {} : { startedAt: started.ts }),
    ...(ended?.ts === undefined ? {} : { endedAt: ended.ts }),
    ...(ended ? { endedBy: ended.by } : {}),
    status: ended ? "ended" : now >= started.deadline ? "expired" : "open",
  };
}

/** Every node of the tree, depth first in issue order. */
export function* walkTokens(nodes: readonly TokenNode[]): Generator<TokenNode> {
  for (const n of nodes) {
    yield n;
    yield* walkTokens(n.children);
  }
}
