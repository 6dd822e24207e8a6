/**
 * Token lineage: every token Baton issues names its ancestors, so that revoking any token makes
 * everything derived from it inactive (rule 7), without a write per descendant, nor one per
 * exchange.
 *
 * RFC 8693 §2.1 says an exchange creates no "tight linkage" between input and output tokens;
 * Baton adds that linkage on purpose. A token is active while neither it nor any ancestor is
 * revoked. The ancestors travel in the token itself, in its signed `lineage` claim (root first,
 * the parent last: at most the task, the development token's root and `max_depth` delegation
 * tokens), so a check is one multi-read of the revocation marks, written only when something is
 * revoked, and an exchange whose subject has no ancestors to check (an outside issuer's token,
 * outside any task) writes and reads nothing (issue 19: the per-exchange record and its fsync
 * were most of a sequential exchange's time).
 *
 * Tokens issued before the claim existed have a record in the store instead (`tok:<jti>`),
 * read only for them: no record, no token. They are all expired one broker `max_ttl` after an
 * upgrade, and this fallback can go then.
 *
 * @module exchange/steps/lineage
 */

import { invalidToken } from "../../errors.js";
import type { Store } from "../../store/store.js";
import type { Claims } from "../../tokens/verify.js";
import type { Subject } from "./verify-subject.js";

/** The record an earlier Baton wrote per issued token; only its ancestors are read now. */
interface LegacyRecord {
  /** Ancestor ids, root first; the last is the parent. */
  readonly a: string[];
  /** Actors at the end of its chain that an outside issuer named. */
  readonly o?: number;
}

/** Where a subject token comes from, as its descendants inherit it. */
export interface Origin {
  /** The ids its descendants inherit (rule 7). */
  readonly ids: readonly string[];
  /** Actors at the end of its chain that an outside issuer named, not Baton. */
  readonly outside: number;
}

/** A token's ancestry as its own claims carry it (verify-subject.ts, verify-issued-token.ts). */
export interface Ancestry {
  /** The `lineage` claim: ancestor ids, root first. */
  readonly lineage: readonly string[];
  /**
   * The `outside_actors` claim, on a delegation token or a `/mcp` session token: how many
   * actors at the end of its chain an outside issuer named (a trusted issuer's `act`, kept by
   * rule 4); Baton's policy governs only the links before them. 0 when absent.
   */
  readonly outside: number;
}

/**
 * Bounds of a well-formed `lineage`, far above what Baton issues: its ids are tokens' `jti`s,
 * `task:<id>` (task-store.ts) and `dev:<jti>` (`devRoot`).
 */
const MAX_LINEAGE = 64;
const MAX_ID_LENGTH = 256;

/** The claims that carry `origin` in a new token (only a subject-to-be needs `outside_actors`). */
export function lineageClaims(origin: Origin, subjectToBe: boolean): Record<string, unknown> {
  return {
    lineage: [...origin.ids],
    ...(subjectToBe && origin.outside > 0 ? { outside_actors: origin.outside } : {}),
  };
}

/**
 * The ancestry a verified token of Baton's carries; undefined when it has no `lineage` claim
 * (issued before it existed: see `legacyAncestry`). A malformed claim refuses the token: the
 * signature is ours, so it means a bug or a forged key, never something to guess around.
 */
export function readAncestry(payload: Claims): Ancestry | undefined {
  const { lineage, outside_actors: outside } = payload;
  if (lineage === undefined) return undefined;
  const wellFormed =
    Array.isArray(lineage) &&
    lineage.length <= MAX_LINEAGE &&
    lineage.every((id) => typeof id === "string" && id !== "" && id.length <= MAX_ID_LENGTH) &&
    (outside === undefined || (Number.isSafeInteger(outside) && (outside as number) > 0));
  if (!wellFormed) throw invalidToken("subject.claims");
  return { lineage: lineage as string[], outside: (outside as number | undefined) ?? 0 };
}

/** The ancestry of a token issued before the `lineage` claim: its record; undefined if none. */
export async function legacyAncestry(store: Store, jti: string): Promise<Ancestry | undefined> {
  const record = await store.get<LegacyRecord>(recordKey(jti));
  return record && { lineage: record.a, outside: record.o ?? 0 };
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
    // Baton's own token: its claims name its ancestors (or, issued earlier, its record does).
    const jti = subject.jti as string;
    const ancestry = subject.ancestry ?? (await legacyAncestry(store, jti));
    if (!ancestry) return undefined;
    return { ids: [...ancestry.lineage, jti], outside: ancestry.outside };
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

/** Marks a token (by lineage id) revoked until `exp`, after which nothing it bore is valid. */
export function markRevoked(store: Store, id: string, exp: number, now: number): Promise<void> {
  return store.set(revokedKey(id), now, ttlMs(exp, now));
}

/** Lineage id of a development token: kept apart from the ids of issued tokens. */
export const devRoot = (jti: string) => `dev:${jti}`;

/** Keep marks a little past `exp`, so clock skew between nodes cannot resurrect a token. */
function ttlMs(exp: number, now: number): number {
  return (Math.max(exp - now, 0) + 60) * 1000;
}
