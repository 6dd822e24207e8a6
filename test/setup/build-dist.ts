/**
 * Global setup of the projects that spawn `baton` (system, browser): compiles `src/` into
 * `dist/` first, so that every spawned command runs `bin/baton.js` on the build, exactly as a
 * user's `baton` does, and never a build older than the source under test. Incremental
 * (`dist/.tsbuildinfo`): when nothing changed since `npm ci` built it, this takes a few
 * seconds; each of the suite's few hundred spawns then starts without loading TypeScript.
 */

import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export default function buildDist(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    stdio: "inherit",
  });
}
