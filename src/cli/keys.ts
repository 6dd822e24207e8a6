/**
 * `baton keys rotate | list | withdraw KID`: the operator's side of the key ring. Prints kids,
 * states and dates only, never key material (rule 9).
 *
 * @module cli/keys
 */

import type { AuditSink } from "../audit/events.js";
import type { Clock } from "../clock.js";
import type { SigningAlg } from "../policy/types.js";
import type { Store } from "../store/store.js";
import { KEY_REFRESH_SECONDS } from "../tokens/key-ring.js";
import { type KeyListing, listKeys, rotateKeys, withdrawKey } from "../tokens/key-ring-admin.js";
import type { KeySealer } from "../tokens/key-seal.js";

export interface Out {
  log(line: string): void;
}

/** What the key commands need: the store, the policy's key settings, the audit log. */
export interface KeysContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly alg: SigningAlg;
  /** The policy's `broker.max_ttl`, seconds. */
  readonly maxTtl: number;
  readonly sealer?: KeySealer;
  readonly audit: AuditSink;
  readonly out: Out;
}

/** A new current key; the old one stays published for `max_ttl` plus the key refresh. */
export async function rotateFromCli(ctx: KeysContext): Promise<void> {
  const { kid, previous } = await rotateKeys(ctx.store, ctx.alg, ctx.clock, ctx.maxTtl, ctx.sealer);
  ctx.audit.record({ type: "key.rotated", kid, ...(previous ? { previous } : {}) });
  const kept = ctx.maxTtl + KEY_REFRESH_SECONDS;
  ctx.out.log(
    `New signing key ${kid}.${previous ? ` ${previous} stays published for ${kept}s (max_ttl + ${KEY_REFRESH_SECONDS}s key refresh), until the last token it signed has expired.` : ""}`,
  );
}

/**
 * Emergency withdrawal of one kid (a leaked private key). An unknown kid throws
 * (UnknownKeyError: exit 1); one withdrawn before is said so, and changes nothing.
 */
export async function withdrawFromCli(ctx: KeysContext, kid: string): Promise<void> {
  const done = await withdrawKey(ctx.store, kid, ctx.alg, ctx.clock, ctx.sealer);
  if (done.already) {
    ctx.out.log(`Key ${kid} was withdrawn before; nothing changed.`);
    return;
  }
  ctx.audit.record({
    type: "key.withdrawn",
    kid,
    ...(done.replacedBy ? { replaced_by: done.replacedBy } : {}),
  });
  ctx.out.log(
    `Withdrew key ${kid}. Every node on this store drops it from its JWKS and refuses every token it signed within ${KEY_REFRESH_SECONDS}s.`,
  );
  if (done.replacedBy) ctx.out.log(`New signing key ${done.replacedBy} signs in its place.`);
}

/** One line per kid: the kid, its state, its algorithm, and until when it is published. */
export async function listFromCli(store: Store, clock: Clock, out: Out): Promise<void> {
  const keys = await listKeys(store, clock);
  if (keys.length === 0) {
    out.log("No signing keys yet: the first process to open the store makes one.");
    return;
  }
  const width = Math.max(...keys.map((k) => k.kid.length));
  for (const key of keys) {
    out.log(
      `${key.kid.padEnd(width)}  ${key.state.padEnd(9)}  ${key.alg.padEnd(5)}  ${published(key)}`,
    );
  }
}

const iso = (epochSeconds: number) =>
  new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

function published(key: KeyListing): string {
  switch (key.state) {
    case "current":
      return "published while it signs";
    case "retired":
      return key.publishUntil === undefined
        ? "published"
        : `published until ${iso(key.publishUntil)}`;
    case "expired":
      return `not published since ${iso(key.publishUntil ?? 0)}`;
    case "withdrawn":
      return `not published: withdrawn ${iso(key.withdrawnAt ?? 0)}`;
  }
}
