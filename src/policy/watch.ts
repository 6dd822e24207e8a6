/**
 * Watches a policy directory for changes (issue 9: hot reload). Editors save in bursts (a
 * temporary file, a rename, a write), so events are debounced into one call.
 *
 * @module policy/watch
 */

import { watch } from "node:fs";

/** Calls `onChange` once per burst of changes in `dir`; returns a function that stops watching. */
export function watchPolicyDir(dir: string, onChange: () => void, debounceMs = 100): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dir, { persistent: false }, () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  // A watcher error (the directory removed, say) must not crash the broker: the last good
  // policy stays in force, and SIGHUP still reloads.
  watcher.on("error", () => undefined);
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
