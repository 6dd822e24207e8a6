/**
 * `baton audit [--task ID] [--denied]` (design §3.1): reads the audit log. Without `--task`, one
 * line per event, oldest first (`--json`: the raw lines); with `--task`, the delegation tree of
 * that task (issue 8), each token under the token it was exchanged from, with its status by
 * rule 7; with `--denied`, only the refusals, each with its rule in plain words (issue 17).
 *
 * The log is read streaming; only the lines asked for (or one task's events) are kept.
 *
 * @module cli/audit
 */

import { readAuditLog } from "../audit/read-audit-log.js";
import {
  buildTaskTree,
  type LoggedEvent,
  type TaskTree,
  type TokenNode,
  taskEventFilter,
} from "../audit/task-tree.js";
import { isDuration, parseDuration } from "../policy/duration.js";
import { ruleWords } from "./rule-words.js";

export interface AuditFlags {
  /** The audit log file (`--audit`), or `stderr`. */
  readonly path: string;
  readonly task?: string;
  readonly json?: boolean;
  /** A duration back from now (`10m`) or an ISO 8601 time. */
  readonly since?: string;
  /** Only the last N events. */
  readonly limit?: string;
  /** Only refusals, with their rule in plain words. */
  readonly denied?: boolean;
}

export interface AuditOut {
  log(line: string): void;
  error(line: string): void;
}

/** Runs the command; the exit code (0, or 1 with a message on `out.error`). */
export async function auditCommand(flags: AuditFlags, now: number, out: AuditOut): Promise<number> {
  if (flags.path === "stderr") {
    out.error("baton: the audit log goes to stderr (--audit stderr): name its file with --audit");
    return 1;
  }
  if (flags.denied && flags.task !== undefined) {
    out.error("baton: --denied and --task do not combine: a task's tree shows issued tokens");
    return 1;
  }
  let bad = 0;
  const events = readAuditLog(flags.path, { onBadLine: () => bad++ });
  try {
    const code =
      flags.task === undefined
        ? await printEvents(events, flags, now, out)
        : await printTree(events, flags.task, flags, now, out);
    if (bad > 0) out.error(`baton: ${bad} unreadable line${bad === 1 ? "" : "s"} skipped`);
    return code;
  } catch (err) {
    out.error(`baton: audit log ${flags.path}: ${fileProblem(err)}`);
    return 1;
  }
}

async function printTree(
  events: AsyncIterable<LoggedEvent>,
  taskId: string,
  flags: AuditFlags,
  now: number,
  out: AuditOut,
): Promise<number> {
  const keep = taskEventFilter(taskId);
  const mine: LoggedEvent[] = [];
  for await (const event of events) if (keep(event)) mine.push(event);
  const tree = buildTaskTree(mine, taskId, now);
  if (!tree) {
    out.error(`baton: no task ${JSON.stringify(taskId)} in the audit log ${flags.path}`);
    return 1;
  }
  if (flags.json) out.log(JSON.stringify(tree, null, 2));
  else for (const line of renderTaskTree(tree, now)) out.log(line);
  return 0;
}

async function printEvents(
  events: AsyncIterable<LoggedEvent>,
  flags: AuditFlags,
  now: number,
  out: AuditOut,
): Promise<number> {
  const since = flags.since === undefined ? undefined : parseSince(flags.since, now);
  if (since === null) {
    out.error("baton: --since: must be a duration such as 10m, or an ISO 8601 time");
    return 1;
  }
  const limit = flags.limit === undefined ? undefined : Number(flags.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    out.error("baton: --limit: must be a positive whole number");
    return 1;
  }
  // "Recent" refusals: without --since or --limit, --denied shows the last few, not a year's.
  const keep = limit ?? (flags.denied && since === undefined ? DENIED_DEFAULT_LIMIT : undefined);
  const show = (event: LoggedEvent) => {
    if (flags.denied) for (const line of deniedLines(event, flags.json)) out.log(line);
    else out.log(flags.json ? JSON.stringify(event) : formatEvent(event));
  };
  // With a limit, only the last N are kept (a ring), so a long log costs no memory.
  const last: LoggedEvent[] = [];
  let matched = 0;
  for await (const event of events) {
    if (since !== undefined && (event.ts ?? 0) < since) continue;
    if (flags.denied && !isRefusal(event)) continue;
    matched++;
    if (keep === undefined) show(event);
    else {
      last.push(event);
      if (last.length > keep) last.shift();
    }
  }
  for (const event of last) show(event);
  if (flags.json) return 0;
  if (matched === 0) out.log(flags.denied ? "No refusals." : "No audit events.");
  else if (limit === undefined && keep !== undefined && matched > keep) {
    out.log(`(the last ${keep} of ${matched} refusals; --limit N or --since for others)`);
  }
  return 0;
}

const DENIED_DEFAULT_LIMIT = 20;

/** The events that record a refusal (audit/events.ts). */
const REFUSALS = new Set(["exchange.denied", "client.auth_failed", "policy.rejected"]);

const isRefusal = (event: LoggedEvent) => REFUSALS.has(event.type);

/** A refusal for an operator: when, who, for whom and what, then why in words. */
export function deniedLines(event: LoggedEvent, json = false): string[] {
  const why = "rule" in event ? ruleWords(event.rule) : undefined;
  if (json) return [JSON.stringify(why === undefined ? event : { ...event, why })];
  const time = event.ts === undefined ? "-" : isoTime(event.ts);
  switch (event.type) {
    case "policy.rejected":
      return [
        `${time}  policy reload refused (still in force: ${event.version})`,
        ...event.issues.map((issue) => `    ${issue}`),
      ];
    case "client.auth_failed":
      return [
        `${time}  authentication failed  agent ${plain(event.client_id ?? "(none given)")}`,
        `    why: ${why} (${event.rule})`,
      ];
    case "exchange.denied": {
      const parts = [`agent ${plain(event.agent ?? "(unknown)")}`];
      if (event.subject !== undefined) parts.push(`user ${plain(event.subject)}`);
      if (event.audience !== undefined) {
        const scopes = event.scopes === undefined ? "" : ` [${event.scopes.join(" ")}]`;
        parts.push(`for ${plain(event.audience)}${scopes}`);
      }
      return [
        `${time}  refused ${event.error}  ${parts.join("  ")}`,
        `    why: ${why} (${event.rule})`,
      ];
    }
    default:
      return [formatEvent(event)];
  }
}

/** Seconds since the epoch, or null when `text` is neither a duration nor a time. */
function parseSince(text: string, now: number): number | null {
  if (isDuration(text)) return now - parseDuration(text);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

function fileProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === "ENOENT") return "not found (name it with --audit or BATON_AUDIT)";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a directory, not a file";
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Text

/** An epoch time as ISO 8601, to the second. */
export const isoTime = (seconds: number): string =>
  new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Fields whose numbers are epoch times, shown as ISO 8601. */
const TIME_FIELDS = new Set(["exp", "deadline", "expires_at"]);

/** One event, one line: the time, the type, then its fields as `key=value`. */
export function formatEvent(event: LoggedEvent): string {
  const { ts, type, policy, ...fields } = event as LoggedEvent & { policy?: string };
  const parts = Object.entries(fields).map(([key, value]) => `${key}=${fieldText(key, value)}`);
  if (policy !== undefined) parts.push(`policy=${policy}`);
  return `${ts === undefined ? "-" : isoTime(ts)}  ${type.padEnd(18)} ${parts.join(" ")}`;
}

function fieldText(key: string, value: unknown): string {
  if (typeof value === "number" && TIME_FIELDS.has(key)) return isoTime(value);
  if (Array.isArray(value)) return `[${value.map((v) => plain(String(v))).join(" ")}]`;
  if (typeof value === "string") return plain(value);
  return JSON.stringify(value);
}

/** Text as is when it is one plain word; quoted otherwise, so a line always splits cleanly. */
const plain = (text: string) => (/^[\w.@:/+~-]+$/.test(text) ? text : JSON.stringify(text));

/** The tree as text: the task, then its tokens drawn with ├─ └─. */
export function renderTaskTree(tree: TaskTree, now: number): string[] {
  const { task } = tree;
  const status =
    task.status === "ended"
      ? `ended${task.endedAt === undefined ? "" : ` ${isoTime(task.endedAt)}`}${task.endedBy ? ` by ${task.endedBy}` : ""}`
      : task.status;
  const lines = [
    `Task ${task.id}  ${status}`,
    `  purpose   ${JSON.stringify(task.purpose)}`,
    `  user      ${task.subject} (opened by ${task.agent}${task.template ? `, template ${task.template}` : ""})`,
    `  ceiling   ${task.ceiling.join(" ")}`,
    `  deadline  ${isoTime(task.deadline)}${task.status === "open" ? ` (${inTime(task.deadline - now)})` : ""}`,
    `  tokens    ${tree.tokens} issued of at most ${task.maxTokens}`,
  ];
  if (tree.roots.length === 0) lines.push("  (no tokens issued yet)");
  const draw = (nodes: readonly TokenNode[], prefix: string) => {
    nodes.forEach((node, i) => {
      const lastOne = i === nodes.length - 1;
      lines.push(`${prefix}${lastOne ? "└─ " : "├─ "}${tokenLine(node, now)}`);
      draw(node.children, `${prefix}${lastOne ? "   " : "│  "}`);
    });
  };
  draw(tree.roots, "");
  return lines;
}

/** Why, when not revoked itself (rule 7: the cascade). */
const CAUSES = { token: "", ancestor: " (an ancestor was revoked)", task: " (the task ended)" };

function tokenLine(node: TokenNode, now: number): string {
  const what = `${node.kind} ${node.agent} → ${node.audience} [${node.scopes.join(" ")}]`;
  const state =
    node.status === "revoked"
      ? `REVOKED${node.revoked?.at === undefined ? "" : ` ${isoTime(node.revoked.at)}`}${CAUSES[node.revoked?.cause ?? "token"]}`
      : node.status === "expired"
        ? `expired ${isoTime(node.exp)}`
        : `active, expires ${isoTime(node.exp)} (${inTime(node.exp - now)})`;
  return `${what}  ${state}  jti ${node.jti}`;
}

/** "in 4 min", "in 30 s": how long until a time. */
function inTime(seconds: number): string {
  return seconds >= 120 ? `in ${Math.floor(seconds / 60)} min` : `in ${Math.max(0, seconds)} s`;
}
