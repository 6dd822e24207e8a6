/**
 * Approval records (design §4 rule 6): what a human is asked to allow, bound by a digest to
 * the exact request, decided once, consumed once, expiring. The same pattern as CIBA's
 * `auth_req_id` (OpenID CIBA Core): pending until decided, then approved or denied.
 *
 * @module approvals/approval-store
 */

import { createHash, randomBytes } from "node:crypto";
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

/** Creates the record and lists it on the approval desk. */
export async function createApproval(
  store: Store,
  record: ApprovalRecord,
  now: number,
): Promise<void> {
  await saveApproval(store, record, now);
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
