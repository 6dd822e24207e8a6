/**
 * Who is at the approval page: a human approver, signed in with a one-time login link (made
 * by the operator, `baton approvals login --as NAME`), through the OpenID Provider of
 * `broker.approval_login`, or with a user token from a trusted issuer (or the development
 * issuer) naming them in `sub`. The session lives in the store, so
 * every node knows it; its CSRF token is bound to it.
 *
 * @module exchange/approver-session
 */

import { randomBytes, timingSafeEqual } from "node:crypto";
import {
  type ApprovalRecord,
  readApproval,
  recentApprovals,
  stateOf,
} from "../approvals/approval-store.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";
import { approvalsAudienceOf } from "../urls.js";
import { mayDecide } from "./operations/decide-approval.js";
import { anyRevoked, subjectLineage } from "./steps/lineage.js";
import { verifySubject } from "./steps/verify-subject.js";
import type { ExchangeDeps } from "./types.js";

export interface ApproverSession {
  readonly id: string;
  readonly person: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

/** A login link is good for this long, and once. */
const LINK_TTL = 10 * 60;
/** An approver stays signed in this long. */
const SESSION_TTL = 8 * 3600;

const random = () => randomBytes(32).toString("base64url");
const linkKey = (token: string) => `approver-link:${token}`;
const sessionKey = (id: string) => `approver-session:${id}`;

/** A one-time sign-in link for `person` (the operator's CLI prints it). */
export async function createLoginLink(
  deps: ExchangeDeps,
  person: string,
): Promise<{ url: string; expiresAt: number }> {
  const token = random();
  const expiresAt = deps.clock.now() + LINK_TTL;
  await deps.store.set(linkKey(token), person, LINK_TTL * 1000);
  return { url: `${deps.issuer}/approvals/login?token=${token}`, expiresAt };
}

/** Redeems a login link, once: the atomic delete lets exactly one caller through. */
export async function signInWithLink(
  deps: ExchangeDeps,
  token: string,
): Promise<ApproverSession | undefined> {
  const person = await takeOnce<string>(deps, token, linkKey);
  return person === undefined ? undefined : openSession(deps, person);
}

/**
 * The record a one-time random value names, taken once: of callers racing with the same value,
 * only the one whose delete removed it gets it. A value not shaped like ours is not looked up.
 */
async function takeOnce<T>(
  deps: ExchangeDeps,
  value: string,
  keyOf: (value: string) => string,
): Promise<T | undefined> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(value)) return undefined;
  const record = await deps.store.get<T>(keyOf(value));
  if (record === undefined || !(await deps.store.delete(keyOf(value)))) return undefined;
  return record;
}

/**
 * Signs in with a user token (trusted issuer or development issuer): the person is its `sub`.
 *
 * Only a token issued for the approval page itself (`aud` = `<issuer>/approvals`) signs in.
 * The tokens a user hands to agents (for the broker, or for `/mcp`) never do: an agent holds
 * one, and with it could otherwise approve its own request as the user (rule 6: never by an
 * agent). A token that names an agent as its holder (`azp`, `client_id`, `may_act`) or carries
 * an `act` chain is an agent's, whatever its audience; a revoked one is refused.
 */
export async function signInWithToken(
  deps: ExchangeDeps,
  token: string,
): Promise<ApproverSession | undefined> {
  try {
    const subject = await verifySubject(deps, token, TOKEN_TYPE.jwt, deps.clock.now(), [
      approvalsAudienceOf(deps.issuer),
    ]);
    const agents = subject.source === "delegation" || subject.chain.length > 0;
    if (agents || subject.holder !== undefined || subject.mayAct !== undefined) return undefined;
    const lineage = await subjectLineage(deps.store, subject);
    if (!lineage || (await anyRevoked(deps.store, lineage))) return undefined;
    return await openSession(deps, subject.sub);
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "temporarily_unavailable") throw err;
    return undefined;
  }
}

/** What a sign-in at the OpenID Provider keeps between leaving for it and coming back. */
export interface ProviderLogin {
  /** OpenID Connect Core §3.1.2.1: bound into the ID token, checked on return. */
  readonly nonce: string;
  /** RFC 7636 PKCE: proves the code comes back to the browser that left. */
  readonly verifier: string;
  /** Where to go once signed in (a checked local path). */
  readonly next?: string;
}

const providerLoginKey = (state: string) => `approver-oidc:${state}`;

/** Remembers a sign-in leaving for the provider; the returned `state` names it (RFC 6749 §10.12). */
export async function startProviderLogin(
  deps: ExchangeDeps,
  login: ProviderLogin,
): Promise<string> {
  const state = random();
  await deps.store.set(providerLoginKey(state), login, LINK_TTL * 1000);
  return state;
}

/** The sign-in named by `state`, once: a replayed callback finds nothing (atomic delete). */
export async function takeProviderLogin(
  deps: ExchangeDeps,
  state: string,
): Promise<ProviderLogin | undefined> {
  return takeOnce<ProviderLogin>(deps, state, providerLoginKey);
}

/**
 * Opens a session for a person the approval page's OpenID Provider vouched for: the caller
 * (http/oidc-login.ts) has checked the ID token (issuer, audience, nonce, signature, expiry).
 */
export function signInAsProvided(deps: ExchangeDeps, person: string): Promise<ApproverSession> {
  return openSession(deps, person);
}

async function openSession(deps: ExchangeDeps, person: string): Promise<ApproverSession> {
  const session: ApproverSession = {
    id: random(),
    person,
    csrf: random(),
    expiresAt: deps.clock.now() + SESSION_TTL,
  };
  await deps.store.set(sessionKey(session.id), session, SESSION_TTL * 1000);
  return session;
}

export async function readSession(
  deps: ExchangeDeps,
  id: string | undefined,
): Promise<ApproverSession | undefined> {
  if (id === undefined || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return undefined;
  return deps.store.get<ApproverSession>(sessionKey(id));
}

export async function endSession(deps: ExchangeDeps, id: string): Promise<void> {
  await deps.store.delete(sessionKey(id));
}

/** Constant-time comparison of the form's CSRF token with the session's. */
export function csrfMatches(session: ApproverSession, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The pending approvals this person may decide, newest first: nothing of anyone else's. */
export async function pendingFor(deps: ExchangeDeps, person: string): Promise<ApprovalRecord[]> {
  const now = deps.clock.now();
  const { policy } = deps.active();
  return (await recentApprovals(deps.store)).filter(
    (r) => stateOf(r, now) === "pending" && mayDecide(policy, r, person),
  );
}

/** One approval, if this person may decide it (whatever its state). */
export async function approvalFor(
  deps: ExchangeDeps,
  person: string,
  id: string,
): Promise<ApprovalRecord | undefined> {
  const record = await readApproval(deps.store, id);
  return record && mayDecide(deps.active().policy, record, person) ? record : undefined;
}
