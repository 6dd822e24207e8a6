/**
 * The composition root and the `baton` command line: the only place that picks concrete
 * adapters (design §5). One file per command, the shared settings, the HTTP server, the
 * composition (`compose.ts`) and the commander program.
 *
 * @module main
 */

import { BatonError } from "../errors.js";
import { PolicyError } from "../policy/load.js";
import { SealedKeyError } from "../tokens/key-seal.js";
import { buildProgram } from "./program.js";

/** Entry point of `bin/baton.js`. Known failures print their message, never a stack. */
export async function run(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    process.exitCode = 1;
    if (err instanceof PolicyError) {
      for (const line of err.issues) process.stderr.write(`${line}\n`);
      return;
    }
    if (err instanceof SealedKeyError) {
      const fix = err.problem === "missing" ? "; set it to the secret they were sealed with" : "";
      process.stderr.write(`baton: BATON_KEY_SECRET (--key-secret-file): ${err.message}${fix}\n`);
      return;
    }
    // A store that cannot be opened says why (the CLI is the operator's own console).
    const cause =
      err instanceof BatonError && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    process.stderr.write(`baton: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
  }
}
