/**
 * What the architecture tests read: every TypeScript file under `src/`, by path. They read the
 * files as text (import lines, constructors, lengths), so the rules they hold cannot rot silently.
 */

import { readdirSync } from "node:fs";
import { join } from "node:path";

export const SRC = join(import.meta.dirname, "../../src");

/** Every `.ts` file under `dir`, recursively. */
export function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}
