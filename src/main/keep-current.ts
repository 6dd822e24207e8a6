/**
 * What keeps a long-running process (`serve`, embedded `mcp`) in step with its sources: the
 * policy directory and the key ring that other processes on the store may change.
 *
 * @module main/keep-current
 */

import type { Logger } from "../log.js";
import { watchPolicyDir } from "../policy/watch.js";
import { KEY_REFRESH_SECONDS, type KeyRing } from "../tokens/key-ring.js";
import type { ReloadOutcome } from "./compose.js";

/**
 * Keeps the policy current while a process runs: on every change in the directory (unless
 * BATON_WATCH=0) and on SIGHUP. Refusals are logged as `baton policy check` prints them.
 */
export function keepPolicyCurrent(
  broker: { reload(): Promise<ReloadOutcome> },
  dir: string,
  log: Logger,
): () => void {
  const reload = async (trigger: string) => {
    const outcome = await broker.reload();
    if (!outcome.ok) {
      log.error(
        { trigger, version: outcome.version, issues: outcome.issues },
        "policy refused; the last good policy stays in force",
      );
      for (const line of outcome.issues) log.error(`policy: ${line}`);
    } else if (outcome.changed) {
      log.info({ trigger, version: outcome.version }, "policy reloaded");
    }
  };
  const onHup = () => void reload("SIGHUP");
  process.on("SIGHUP", onHup);
  const stopWatching =
    process.env.BATON_WATCH === "0"
      ? () => undefined
      : watchPolicyDir(dir, () => void reload("change"));
  return () => {
    process.off("SIGHUP", onHup);
    stopWatching();
  };
}

/** How often a serving node re-reads the key ring (rotations by other nodes or the CLI). */
const KEY_REFRESH_MS = KEY_REFRESH_SECONDS * 1000;

/**
 * A key rotated by `baton keys rotate` (or another node) is published, and signs, in every
 * long-running process on the store within KEY_REFRESH_MS; until then the process still
 * verifies it (unknown kids re-read the store) and signs with the previous key, which stays
 * valid. Returns the function that stops it.
 */
export function keepKeysCurrent(keys: KeyRing): () => void {
  const refresh = setInterval(() => keys.reload().catch(() => {}), KEY_REFRESH_MS);
  refresh.unref();
  return () => clearInterval(refresh);
}
