/**
 * `baton keys rotate | list | withdraw KID` (design §3.1).
 *
 * @module main/keys
 */

import { openAuditLog } from "../audit/audit-log.js";
import type { KeysContext } from "../cli/keys.js";
import { listFromCli } from "../cli/keys.js";
import { systemClock } from "../clock.js";
import { loadPolicy } from "../policy/load.js";
import { openKeyvStore } from "../store/keyv-store.js";
import {
  keySealer,
  offlineOptions,
  type SharedFlags,
  storeTimeoutMs,
  terminal,
} from "./settings.js";

/**
 * `baton keys rotate` and `keys withdraw`: one command on the store, with the policy's key
 * settings, the key secret and the audit log. It opens no key ring of its own, so it needs no
 * secret unless it makes a key.
 */
export async function withKeys(flags: SharedFlags, run: (ctx: KeysContext) => Promise<void>) {
  const options = offlineOptions(flags);
  const policy = await loadPolicy(options.policies);
  const sealer = keySealer(options);
  const store = await openKeyvStore(options.store, { timeoutMs: options.storeTimeoutMs });
  const audit = openAuditLog(options.audit, systemClock);
  try {
    await run({
      store,
      clock: systemClock,
      alg: policy.broker.signingAlg,
      maxTtl: policy.broker.maxTtl,
      ...(sealer ? { sealer } : {}),
      audit,
      out: terminal,
    });
  } finally {
    await audit.close();
    await store.close();
  }
}

/** `baton keys list`: reads the ring only (public facts), so it needs no policy and no secret. */
export async function keysListCommand(flags: SharedFlags) {
  const store = await openKeyvStore(flags.store, { timeoutMs: storeTimeoutMs(flags) });
  try {
    await listFromCli(store, systemClock, terminal);
  } finally {
    await store.close();
  }
}
