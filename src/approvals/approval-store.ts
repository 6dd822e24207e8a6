/**
 * Approval records (design §4 rule 6): what a human is asked to allow, bound by a digest to
 * the exact request, decided once, consumed once, expiring. The same pattern as CIBA's
 * `auth_req_id` (OpenID CIBA Core): pending until decided, then approved or denied.
 *
 * @module approvals/approval-store
 */

import { createHash, randomBytes } from "node:crypto";
import type { CoveredAgent } from "../policy/delegation-reach.js";
import type { Store } from "../store/store.js";

export type ApprovalState = "pending" | "approved" | "denied" | "expired";

/** What is to be granted, exactly: the digest is taken over these fields. */
export interface ApprovalGrant {
  readonly kind: "access" | "task";
  readonly subject: string;
  /**
   * The authenticated client that asked (its `client_id`): only it may redeem the approval or
   * see it. Under impersonation the chain is empty, so the chain alone cannot say whose it is.
   */
  readonly client: string;
  /** The agents, current first; empty for a permitted impersonation. */
  readonly chain: readonly string[];
  /** The API id (an access token) or the task template / "ceiling" (a task). */
  readonly target: string;
  readonly scopes: readonly string[];
  /** The lifetime asked for (seconds), or null when none was named. */
  readonly ttl: number | null;
  /** The task the grant is in (its id), or for a task approval null. */
  readonly task: string | null;
  /**
   * For a task approval: every agent the one approval covers, the opener first, each with the
   * elevated scopes of the ceiling it could get (policy/delegation-reach.ts). Shown to the
   * approver and bound into the digest: the task's grants are held to it (rule 6).
   */
  readonly covers?: readonly CoveredAgent[];
}

export interface ApprovalRecord extends ApprovalGrant {
  readonly id: string;
  readonly digest: string;
  /** Who may decide: `subject` (the user), and/or approver group ids. All must be satisfied. */
  readonly approvers: readonly string[];
  readonly state: "pending" | "approved" | "denied";
  readonly reason?: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedBy?: string;
  readonly decidedAt?: number;
  /** For a task approval: the task it opens. */
  readonly taskId?: string;
}

const recordKey = (id: string) => `approval:${id}`;
const usedKey = (id: string) => `approval-used:${id}`;
const SEQ_KEY = "approvals:seq";
const slotKey = (n: number) => `approvals:at:${n}`;

/** How many of the latest approvals the desk lists (older ones have long expired). */
const LISTED = 500;

/** A fresh approval id: 128 random bits. */
export function newApprovalId(): string {
  return `apr_${randomBytes(16).toString("base64url")}`;
}

/** SHA-256 over a canonical JSON of the grant: any field changed, another digest. */
export function grantDigest(grant: ApprovalGrant): string {
  const canonical = JSON.stringify([
    grant.kind,
    grant.subject,
    grant.client,
    [...grant.chain],
    grant.target,
    [...grant.scopes].sort(),
    grant.ttl,
    grant.task,
    // Only task approvals name whom they cover: other grants keep the digest they had.
    ...(grant.covers === undefined
      ? []
      : [grant.covers.map((c) => [c.agent, [...c.scopes].sort(), c.delegated])]),
  ]);
  return createHash("sha256").update(canonical).digest("base64url");
}

/** Kept a little past expiry, so that a late redemption reads `expired`, not "unknown". */
const keepMs = (expiresAt: number, now: number) => (Math.max(expiresAt - now, 0) + 600) * 1000;

export async function saveApproval(
  store: Store,
  record: ApprovalRecord,
  now: number,
): Promise<void> {
  await store.set(recordKey(record.id), record, keepMs(record.expiresAt, now));
}

/** Lists a saved record on the approval desk. */
export async function listApproval(
  store: Store,
  record: ApprovalRecord,
  now: number,
): Promise<void> {
  const slot = await store.increment(SEQ_KEY);
  await store.set(slotKey(slot), record.id, keepMs(record.expiresAt, now));
}

export function readApproval(store: Store, id: string): Promise<ApprovalRecord | undefined> {
  return store.get<ApprovalRecord>(recordKey(id));
}

/**
 * The approval as its requesting client may see it: undefined when unknown or another
 * client's, so that the two cannot be told apart (no oracle for approval ids). A record from
 * before approvals named their client has none, and belongs to nobody.
 */
export async function readOwnApproval(
  store: Store,
  id: string,
  client: string,
): Promise<ApprovalRecord | undefined> {
  const record = await readApproval(store, id);
  return record?.client === client ? record : undefined;
}

/**
 * The state as of `now`. A pending record past its lifetime is expired, and so is an approved
 * one never redeemed: a decision restarts the clock (see decideApproval), it does not stop it.
 */
export function stateOf(record: ApprovalRecord, now: number): ApprovalState {
  return record.state !== "denied" && now >= record.expiresAt ? "expired" : record.state;
}

/** Atomically marks an approval used: true for exactly one caller, ever. */
export function consumeApproval(
  store: Store,
  record: ApprovalRecord,
  now: number,
): Promise<boolean> {
  return store.add(usedKey(record.id), now, keepMs(record.expiresAt, now));
}

/** The most recent approvals, newest first (the desk filters what each approver may see). */
export async function recentApprovals(store: Store): Promise<ApprovalRecord[]> {
  const last = (await store.get<number>(SEQ_KEY)) ?? 0;
  const slots = Array.from({ length: Math.min(last, LISTED) }, (_, i) => slotKey(last - i));
  const ids = (await store.getMany<string>(slots)).filter((id): id is string => id !== undefined);
  const records = await store.getMany<ApprovalRecord>(ids.map(recordKey));
  return records.filter((r): r is ApprovalRecord => r !== undefined);
}

// An identical pending request gets the same approval (design §3.5): the grant's digest names
// the pending approval opened for it. Claimed with `add`, so of two identical requests at once
// exactly one opens; released when decided (an expired one's claim expires with it).
const openKey = (digest: string) => `approval-open:${digest}`;
/** How long a pending approval can stay pending: its claims last exactly that long. */
const pendingMs = (record: ApprovalRecord, now: number) =>
  Math.max(record.expiresAt - now, 1) * 1000;

/** The approval still pending for exactly this grant (by digest), if there is one. */
export async function pendingFor(
  store: Store,
  digest: string,
  now: number,
): Promise<ApprovalRecord | undefined> {
  const id = await store.get<string>(openKey(digest));
  const record = id === undefined ? undefined : await readApproval(store, id);
  return record !== undefined && stateOf(record, now) === "pending" ? record : undefined;
}

/** Claims the grant's digest for `record`: true for exactly one of identical openers. */
export function claimDigest(store: Store, record: ApprovalRecord, now: number): Promise<boolean> {
  return store.add(openKey(record.digest), record.id, pendingMs(record, now));
}

/** Decided, or never opened: an identical request opens a new approval from now on. */
export async function releaseDigest(store: Store, record: ApprovalRecord): Promise<void> {
  if ((await store.get<string>(openKey(record.digest))) === record.id) {
    await store.delete(openKey(record.digest));
  }
}

/** A record that lost the race to open, or was refused by the cap: it was never listed. */
export async function dropApproval(store: Store, record: ApprovalRecord): Promise<void> {
  await Promise.all([store.delete(recordKey(record.id)), releaseDigest(store, record)]);
}

// The cap on open approvals (`max_open_approvals`) counts pending ones only: each pending
// approval holds one of its client's slots, and a slot whose approval is decided, expired or
// gone is free again. A free slot is taken with `add`; a stale one is freed once, by `add` on a
// marker of the approval it held, so two openers never take the same slot.
const capKey = (client: string, n: number) => `approval-cap:${client}:${n}`;
const freedKey = (id: string) => `approval-cap-freed:${id}`;

/**
 * Takes a slot for `record` among its client's `max`; when every slot holds a pending approval,
 * none is taken and the answer is the seconds until the first of them expires.
 */
export async function takeSlot(
  store: Store,
  record: ApprovalRecord,
  max: number,
  now: number,
): Promise<{ readonly taken: true } | { readonly taken: false; readonly retryAfter: number }> {
  const keys = Array.from({ length: max }, (_, n) => capKey(record.client, n));
  const holders = await store.getMany<string>(keys);
  const held = await store.getMany<ApprovalRecord>(
    holders.filter((id): id is string => id !== undefined).map(recordKey),
  );
  const byId = new Map(held.flatMap((r) => (r === undefined ? [] : [[r.id, r] as const])));
  let retryAfter = Number.POSITIVE_INFINITY;
  for (const [n, key] of keys.entries()) {
    const holder = holders[n];
    const pending = holder === undefined ? undefined : byId.get(holder);
    if (pending !== undefined && stateOf(pending, now) === "pending") {
      retryAfter = Math.min(retryAfter, pending.expiresAt - now);
    } else if (holder === undefined) {
      if (await store.add(key, record.id, pendingMs(record, now))) return { taken: true };
    } else if (await store.add(freedKey(holder), record.id, keepMs(record.expiresAt, now))) {
      await store.set(key, record.id, pendingMs(record, now));
      return { taken: true };
    }
  }
  return { taken: false, retryAfter: Math.max(1, Math.min(retryAfter, record.expiresAt - now)) };
}
