/**
 * Reads the audit log back (the JSON lines `openAuditLog` appends), streaming, line by line:
 * a long-running broker's log is never held in memory whole.
 *
 * A line that is not a JSON object with a `type` (a write torn by a crash, say) is skipped
 * and counted, never fatal: the rest of the log still reads.
 *
 * @module audit/read-audit-log
 */

import { open } from "node:fs/promises";
import { type LoggedEvent, taskEventFilter } from "./task-tree.js";

export interface ReadOptions {
  /** Told of each line that could not be read, by its 1-based number. */
  readonly onBadLine?: (line: number) => void;
}

/**
 * The events of the log at `path`, oldest first.
 *
 * @throws the file system's error (e.g. ENOENT) when the file cannot be opened.
 */
export async function* readAuditLog(
  path: string,
  options: ReadOptions = {},
): AsyncGenerator<LoggedEvent> {
  // Opened before the first yield, so a missing file fails the first `next()` with ENOENT.
  const file = await open(path, "r");
  try {
    let number = 0;
    for await (const line of file.readLines({ encoding: "utf8", autoClose: false })) {
      number++;
      if (line.trim() === "") continue;
      const event = parseLine(line);
      if (event) yield event;
      else options.onBadLine?.(number);
    }
  } finally {
    await file.close();
  }
}

function parseLine(line: string): LoggedEvent | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    if (typeof (value as { type?: unknown }).type !== "string") return undefined;
    // The log is our own output (rule 9: it holds jtis, never tokens); its shape is trusted.
    return value as LoggedEvent;
  } catch {
    return undefined;
  }
}

/** The events of one task's tree (see `taskEventFilter`), read from the log at `path`. */
export async function readTaskEvents(path: string, taskId: string): Promise<LoggedEvent[]> {
  const keep = taskEventFilter(taskId);
  const events: LoggedEvent[] = [];
  for await (const event of readAuditLog(path)) if (keep(event)) events.push(event);
  return events;
}
