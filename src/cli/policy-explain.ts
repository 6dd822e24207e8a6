/**
 * `baton policy explain --agent X --api Y --scope Z [--via A,B] [--task T] [--json] [DIR]`:
 * would the broker issue this grant, and which rules decide? (issue 8)
 *
 * The decision is the core's `explainGrant` (exchange/operations/explain-grant.ts, through
 * exchange/broker.ts), a replay of the broker's own functions; this file only loads the policy
 * and prints its words for it (cli/explain-text.ts). The verdict comes first (`issued`, `issued after approval
 * by …`, or `refused: <oauth error> (<rule>)`), then one line per rule that decided. Exit 0
 * when the grant would be issued (approval or not), 2 when refused, 1 for bad input (an id the
 * policy does not define, an invalid policy). The commander wiring lives in main/program.ts.
 *
 * @module cli/policy-explain
 */

import {
  ExplainInputError,
  type ExplainQuery,
  type Explanation,
  explainGrant,
} from "../exchange/broker.js";
import { loadPolicy, PolicyError } from "../policy/load.js";
import type { Policy } from "../policy/types.js";
import { explanationText, render } from "./explain-text.js";

export interface ExplainFlags {
  readonly agent: string;
  readonly api: string;
  /** Space- or comma-separated scopes. */
  readonly scope: string;
  /** Comma-separated delegators, in delegation order (the first got the user's token). */
  readonly via?: string;
  readonly task?: string;
  readonly json?: boolean;
}

export interface ExplainOutput {
  log(line: string): void;
  error(line: string): void;
}

export const EXIT = { issued: 0, badInput: 1, refused: 2 } as const;

/** Returns the process exit code. */
export async function policyExplain(
  dir: string,
  flags: ExplainFlags,
  out: ExplainOutput,
): Promise<number> {
  let policy: Policy;
  try {
    policy = await loadPolicy(dir);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    for (const line of err.issues) out.error(line);
    return EXIT.badInput;
  }
  let explanation: Explanation;
  try {
    explanation = explainGrant(policy, toQuery(flags));
  } catch (err) {
    if (!(err instanceof ExplainInputError)) throw err;
    out.error(`baton policy explain: ${err.message}`);
    return EXIT.badInput;
  }
  const text = explanationText(explanation);
  if (flags.json) out.log(JSON.stringify(text, null, 2));
  else for (const line of render(text)) out.log(line);
  return explanation.verdict.kind === "refused" ? EXIT.refused : EXIT.issued;
}

const split = (text: string | undefined) => (text ?? "").split(/[\s,]+/).filter((s) => s !== "");

function toQuery(flags: ExplainFlags): ExplainQuery {
  return {
    agent: flags.agent,
    api: flags.api,
    scopes: split(flags.scope),
    via: split(flags.via),
    ...(flags.task === undefined ? {} : { task: flags.task }),
  };
}
