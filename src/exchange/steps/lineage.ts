/**
 * Token lineage: every issued token's record names its ancestors, so that revoking any token
 * makes everything derived from it inactive (rule 7), without a write per descendant.
 *
 * RFC 8693 §2.1 says an exchange creates no "tight linkage" between input and output tokens;
 * Baton adds that linkage on purpose. A token is active while neither it nor any ancestor is
 * revoked. Chains are at most `max_depth` long, so a check is one read of the record and one
 * multi-read of the revocation marks.
 *
 * @module exchange/steps/lineage
 */

import type { TokenKind } from "../../audit/events.js";
import type { Store } from "../../store/store.js";
import type { Subject } from "./verify-subject.js";

/** What the store keeps per issued token (short names: one per exchange). */
export interface TokenRecord {
  /** Ancestor ids, root first; the last is the parent. */
  readonly a: string[];
  readonly k: TokenKind;
  readonly sub: string;
  /** The agent it was issued to. */
  readonly cid: string;
  readonly exp: number;
  /**
   * For a delegation token: how many actors at the end of its chain an outside issuer named
   * (a trusted issuer's `act`, kept by rule 4); absent when none. Baton's policy governs only
   * the links before them.
   */
  readonly o?: number;
}

/** Where a subject token comes from, as its descendants inherit it. */
export interface Origin {
  /** The ids its descendants inherit (rule 7). */
  readonly ids: readonly string[];
  /** Actors at the end of its chain that an outside issuer named, not Baton. */
  readonly outside: number;
}

const recordKey = (jti: string) => `tok:${jti}`;
const revokedKey = (id: string) => `rev:${id}`;

/** The ids a subject token's descendants inherit, or undefined when its lineage is broken. */
export async function subjectLineage(
  store: Store,
  subject: Subject,
): Promise<string[] | undefined> {
  const origin = await subjectOrigin(store, subject);
  return origin && [...origin.ids];
}

/** The lineage and the outside actors of a subject token; undefined when its lineage is broken. */
export async function subjectOrigin(store: Store, subject: Subject): Promise<Origin | undefined> {
  if (subject.source === "delegation" || subject.source === "session") {
    // Baton's own token: its record must exist (no record, no token: it was written first).
    const record = await store.get<TokenRecord>(recordKey(subject.jti as string));
    if (!record) return undefined;
    return { ids: [...record.a, subject.jti as string], outside: record.o ?? 0 };
  }
  // A development token is Baton's too, and revocable; an outside issuer's token is not ours
  // to revoke, so its descendants start a fresh lineage. Its whole `act`, if any, is outside.
  const ids = subject.source === "dev" && subject.jti ? [devRoot(subject.jti)] : [];
  return { ids, outside: subject.chain.length };
}

/** True when any of the ids is revoked. */
export async function anyRevoked(store: Store, ids: readonly string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const marks = await store.getMany<number>(ids.map(revokedKey));
  return marks.some((m) => m !== undefined);
}

/** When each id was revoked (epoch seconds), or undefined: in the order of `ids`. */
export function revokedAt(store: Store, ids: readonly string[]): Promise<(number | undefined)[]> {
  return ids.length === 0 ? Promise.resolve([]) : store.getMany<number>(ids.map(revokedKey));
}

/** Writes the record of a token about to be issued. It must land before the token leaves. */
export function recordToken(
  store: Store,
  jti: string,
  record: TokenRecord,
  now: number,
): Promise<void> {
  return store.set(recordKey(jti), record, ttlMs(record.exp, now));
}

/** The record of an issued token, or undefined (unknown, or expired). */
export function readRecord(store: Store, jti: string): Promise<TokenRecord | undefined> {
  return store.get<TokenRecord>(recordKey(jti));
}

/** Marks a token (by lineage id) revoked until `exp`, after which nothing it bore is valid. */
export function markRevoked(store: Store, id: string, exp: number, now: number): Promise<void> {
  return store.set(revokedKey(id), now, ttlMs(exp, now));
}

/** Lineage id of a development token: kept apart from the ids of issued tokens. */
export const devRoot = (jti: string) => `dev:${jti}`;

/** Keep records a little past `exp`, so clock skew between nodes cannot resurrect a token. */
function ttlMs(exp: number, now: number): number {
  return (Math.max(exp - now, 0) + 60) * 1000;
}
