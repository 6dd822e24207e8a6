/**
 * `baton policy check [DIR]`: validates a policies directory (design §3.1).
 *
 * Exit 0 with a one-line summary, or 1 with one `file: path: message` line per problem, so
 * that editors and CI can point at each one. A valid policy may still draw warnings (escalation
 * paths, parts that can never be used: policy/escalation.ts): `warning: file: path: message`
 * lines after the summary, on stderr, which never change the exit code. The commander wiring
 * lives elsewhere.
 *
 * @module cli/policy-check
 */

import { definedIn, findPolicyWarnings } from "../policy/escalation.js";
import { compilePolicy, PolicyError, readPolicySources } from "../policy/load.js";
import { issueLine } from "../policy/policy-error.js";
import type { Policy } from "../policy/types.js";

export interface CheckOutput {
  log(line: string): void;
  error(line: string): void;
}

/** Returns the process exit code. Errors other than policy problems are not hidden. */
export async function policyCheck(dir: string, out: CheckOutput): Promise<number> {
  let policy: Policy;
  let where: ReturnType<typeof definedIn>;
  try {
    const sources = await readPolicySources(dir);
    policy = compilePolicy(sources);
    where = definedIn(sources);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    for (const line of err.issues) out.error(line);
    return 1;
  }
  out.log(`${dir.endsWith("/") ? dir : `${dir}/`}: OK (${summary(policy)})`);
  for (const w of findPolicyWarnings(policy, where)) {
    out.error(`warning: ${issueLine(w.file, w.path, w.message)}`);
  }
  return 0;
}

function summary(policy: Policy): string {
  const counts: [number, string][] = [
    [policy.files.length, "file"],
    [policy.apis.size, "API"],
    [policy.scopes.size, "scope"],
    [policy.agents.size, "agent"],
    [policy.tasks.size, "task template"],
    [policy.approvers.size, "approver group"],
  ];
  return counts.map(([n, noun]) => counted(n, noun)).join(", ");
}

/** "1 API", "3 APIs". */
export const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
