/**
 * Who is at the approval page: a human approver, signed in with a one-time login link (made
 * by the operator, `baton approvals login --as NAME`), through the OpenID Provider of
 * `broker.approval_login`, or with a user token from a trusted issuer (or the development
 * issuer) naming them in `sub` (the core verifies it: `ServingBroker.authenticateApprover`).
 * The session lives in the store, so every node knows it; its CSRF token is bound to it.
 *
 * @module http/approvals/approver-session
 */

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../clock.js";
import type { Store } from "../../store/store.js";
import { PATHS } from "../../urls.js";

/** Where sessions and sign-in links are kept, and whose links they are. */
export interface SessionDeps {
  /** The broker's issuer: the sign-in link's origin. */
  readonly issuer: string;
  readonly store: Store;
  readonly clock: Clock;
}

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
  deps: SessionDeps,
  person: string,
): Promise<{ url: string; expiresAt: number }> {
  const token = random();
  const expiresAt = deps.clock.now() + LINK_TTL;
  await deps.store.set(linkKey(token), person, LINK_TTL * 1000);
  return { url: `${deps.issuer}${PATHS.approvals}/login?token=${token}`, expiresAt };
}

/** Redeems a login link, once: the atomic delete lets exactly one caller through. */
export async function signInWithLink(
  deps: SessionDeps,
  token: string,
): Promise<ApproverSession | undefined> {
  const person = await takeOnce<string>(deps, token, linkKey);
  return person === undefined ? undefined : signInAs(deps, person);
}

/**
 * The record a one-time random value names, taken once: of callers racing with the same value,
 * only the one whose delete removed it gets it. A value not shaped like ours is not looked up.
 */
async function takeOnce<T>(
  deps: SessionDeps,
  value: string,
  keyOf: (value: string) => string,
): Promise<T | undefined> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(value)) return undefined;
  const record = await deps.store.get<T>(keyOf(value));
  if (record === undefined || !(await deps.store.delete(keyOf(value)))) return undefined;
  return record;
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
export async function startProviderLogin(deps: SessionDeps, login: ProviderLogin): Promise<string> {
  const state = random();
  await deps.store.set(providerLoginKey(state), login, LINK_TTL * 1000);
  return state;
}

/** The sign-in named by `state`, once: a replayed callback finds nothing (atomic delete). */
export async function takeProviderLogin(
  deps: SessionDeps,
  state: string,
): Promise<ProviderLogin | undefined> {
  return takeOnce<ProviderLogin>(deps, state, providerLoginKey);
}

/**
 * Opens a session for a person someone vouched for: the core, for a user token of their own
 * (`ServingBroker.authenticateApprover`), or the approval page's OpenID Provider, whose ID
 * token the caller (oidc-login.ts) has checked (issuer, audience, nonce, signature, expiry).
 */
export async function signInAs(deps: SessionDeps, person: string): Promise<ApproverSession> {
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
  deps: SessionDeps,
  id: string | undefined,
): Promise<ApproverSession | undefined> {
  if (id === undefined || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return undefined;
  return deps.store.get<ApproverSession>(sessionKey(id));
}

export async function endSession(deps: SessionDeps, id: string): Promise<void> {
  await deps.store.delete(sessionKey(id));
}

/** Constant-time comparison of the form's CSRF token with the session's. */
export function csrfMatches(session: ApproverSession, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
