/**
 * `baton serve` for the bench: the real command line (`run` of src/main/index.ts, as bin/baton.js
 * runs the build), plus one hook outside the request path: started with `--expose-gc`,
 * SIGUSR2 runs a full garbage collection, so RSS can be read after a forced settle.
 *
 * Usage: node --expose-gc --import tsx bench/servers/baton.ts serve …
 */

import { run } from "../../src/main/index.js";

const collect = globalThis.gc;
if (collect !== undefined) {
  process.on("SIGUSR2", () => {
    collect();
    collect();
  });
}

await run(process.argv);
