/**
 * How policy problems are reported: one `file: path: message` line each, all of them at once.
 *
 * A developer fixing policy files wants every problem in one run, not one per run, and wants
 * each line to point at the exact key (`agents.orchestrator.scopes[2]`).
 *
 * @module policy/policy-error
 */

/** Thrown by `loadPolicy` and `compilePolicy`; `issues` holds every problem found. */
export class PolicyError extends Error {
  readonly issues: string[];

  constructor(issues: readonly string[]) {
    const count = `${issues.length} problem${issues.length === 1 ? "" : "s"}`;
    super(`Invalid policy (${count}):\n${issues.map((line) => `  ${line}`).join("\n")}`);
    this.name = "PolicyError";
    this.issues = [...issues];
  }
}

/** A key that reads well after a dot; anything else (e.g. `calendar.read`) goes in brackets. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `["agents", "orchestrator", "scopes", 2]` → `agents.orchestrator.scopes[2]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (typeof segment === "string" && PLAIN_KEY.test(segment)) {
      text += text === "" ? segment : `.${segment}`;
    } else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

/** One report line: `file: path: message`, or `file: message` for the file as a whole. */
export function issueLine(file: string, path: readonly PropertyKey[], message: string): string {
  return path.length === 0 ? `${file}: ${message}` : `${file}: ${formatPath(path)}: ${message}`;
}
