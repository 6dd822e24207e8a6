/**
 * The ID-JAG of a JWT bearer grant (RFC 7523 §2.1; draft-ietf-oauth-identity-assertion-authz-grant
 * §4.4.1): verified against the trusted issuer that signed it, which policy must mark
 * `id_jag: true`, and read into what a redemption needs; then its parties, its one target and
 * its single use. Every refusal is `invalid_grant` with one description (RFC 7521 §5.2); the
 * rule names the cause for the audit log only.
 *
 * @module exchange/steps/verify-id-jag
 */

import { BatonError, invalidGrant, type Rule } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import { readActChain } from "../../tokens/act.js";
import { ID_JAG_TYP } from "../../tokens/token-types.js";
import { type Claims, peekIssuer } from "../../tokens/verify.js";
import { mcpResourceOf } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";

/** A verified ID-JAG, as the redemption reads it. */
export interface IdJag {
  readonly iss: string;
  /** Unique with `iss` only (draft §6.3): the audit records both. */
  readonly sub: string;
  readonly jti: string;
  readonly exp: number;
  /** The client it was issued for, at this server (draft §3.1). */
  readonly clientId: string;
  /** RFC 8707 resource indicators: one URI or several (draft §3.1). */
  readonly resources: readonly string[];
  /** Undefined when the ID-JAG carries no `scope` claim. */
  readonly scopes?: ReadonlySet<string>;
  /** The actors the issuer names (`act`, RFC 8693 §4.1), current first; empty when none. */
  readonly chain: readonly string[];
}

type AssertionRule = Extract<Rule, `assertion.${string}`>;

/** Longest `jti` kept as a single-use key, as for an actor token. */
const MAX_JTI_LENGTH = 256;

export async function verifyIdJag(
  deps: ExchangeDeps,
  assertion: string,
  now: number,
): Promise<IdJag> {
  const iss = refusedAs("assertion.claims", () => peekIssuer(assertion, "assertion"));
  const { policy, issuerVerifiers } = deps.active();
  // Draft §8.3: an IdP never issues access tokens for an ID-JAG it issued itself.
  if (iss === deps.issuer) throw invalidGrant("assertion.own");
  const trusted = policy.issuers.get(iss);
  const verify = issuerVerifiers.get(iss);
  if (!trusted || !verify) throw invalidGrant("assertion.untrusted_issuer");
  if (!trusted.idJag) throw invalidGrant("assertion.not_id_jag_issuer");
  let claims: Claims;
  try {
    // Draft §4.4.1: `typ` oauth-id-jag+jwt (RFC 8725 §3.11), `aud` this server's issuer
    // (whatever audience the issuer's subject tokens carry), `client_id` and `jti` present;
    // the issuer's keys, algorithms, clock skew and max_token_lifetime as for a subject token.
    claims = await verify(assertion, now, "assertion", [], {
      audience: deps.issuer,
      typ: ID_JAG_TYP,
      requiredClaims: ["jti", "client_id"],
    });
  } catch (err) {
    if (err instanceof BatonError && err.status >= 500) throw err;
    throw invalidGrant(verifierFinding(err), err);
  }
  return readIdJag(iss, claims);
}

/** The verifier's finding (`assertion.claim.typ`, …) as one of the grant's rules. */
function verifierFinding(err: unknown): AssertionRule {
  const rule = err instanceof BatonError ? String(err.rule) : "";
  if (rule === "assertion.claim.typ") return "assertion.typ";
  if (rule === "assertion.claim.aud") return "assertion.audience";
  if (rule === "assertion.lifetime") return "assertion.lifetime";
  return "assertion.claims";
}

function readIdJag(iss: string, claims: Claims): IdJag {
  // Draft §4.4.1: an array `aud` holds exactly one element, this server's issuer.
  if (Array.isArray(claims.aud) && claims.aud.length !== 1)
    throw invalidGrant("assertion.audience");
  // Draft §6.3: with a tenant, `sub` is unique only as iss + tenant + sub. Baton keys a user
  // on `sub` (approvals, rate limits, MCP sessions), so it trusts one tenant per issuer URL.
  if (claims.tenant !== undefined) throw invalidGrant("assertion.tenant");
  // Draft §8.6.1: a key-bound ID-JAG needs a proof of possession (DPoP) Baton does not check;
  // RFC 9396 details it cannot honour would be dropped, not enforced. Refused, never ignored.
  if (claims.cnf !== undefined || claims.authorization_details !== undefined) {
    throw invalidGrant("assertion.bound");
  }
  const chain = claims.act === undefined ? [] : readActChain(claims.act);
  if (!chain) throw invalidGrant("assertion.claims");
  const { sub, jti, client_id: clientId, exp } = claims;
  if (!nonEmpty(sub) || !nonEmpty(clientId) || !nonEmpty(jti) || jti.length > MAX_JTI_LENGTH) {
    throw invalidGrant("assertion.claims");
  }
  const scopes = readScope(claims.scope);
  return {
    iss,
    sub,
    jti,
    exp: exp as number,
    clientId,
    resources: readResources(claims.resource),
    ...(scopes === undefined ? {} : { scopes }),
    chain,
  };
}

/** RFC 6749 §3.3 via the claim (draft §3.1): a space-separated string, when present. */
function readScope(scope: unknown): ReadonlySet<string> | undefined {
  if (scope === undefined) return undefined;
  if (typeof scope !== "string") throw invalidGrant("assertion.claims");
  return new Set(scope.split(" ").filter((s) => s !== ""));
}

/** Draft §3.1: `resource` is one URI or an array of them. */
function readResources(resource: unknown): string[] {
  if (resource === undefined) return [];
  const list = [resource].flat();
  if (!list.every(nonEmpty)) throw invalidGrant("assertion.claims");
  return list as string[];
}

const nonEmpty = (value: unknown): value is string => typeof value === "string" && value !== "";

/**
 * Draft §4.4.1: `client_id` names the authenticated client. The subject is a person, never an
 * agent's id (RFC 9700 §4.15), and the chain the token will carry names the agent once and
 * stays within `max_depth` (rule 4).
 */
export function checkIdJagParties(policy: Policy, idJag: IdJag, agent: Agent): void {
  if (idJag.clientId !== agent.id) throw invalidGrant("assertion.client");
  if (policy.agents.has(idJag.sub)) throw invalidGrant("assertion.claims");
  const chain = [agent.id, ...idJag.chain];
  if (new Set(chain).size !== chain.length || chain.length > policy.broker.maxDepth) {
    throw invalidGrant("assertion.claims");
  }
}

/** What the issued token is for: one of Baton's APIs, or Baton's own `/mcp`. */
export type IdJagTarget =
  | { readonly kind: "api"; readonly api: Api; readonly resource: string }
  | { readonly kind: "mcp"; readonly resource: string };

/**
 * EMA §7.2.1: the access token is audience-restricted to the ID-JAG's `resource`. Baton asks
 * for exactly one, matched byte for byte (RFC 8707 §2, rule 3): an API it issues tokens for, or
 * its own MCP resource. An API behind an outside authorization server is not Baton's to grant.
 */
export function redemptionTarget(policy: Policy, issuer: string, idJag: IdJag): IdJagTarget {
  const [resource, ...more] = idJag.resources;
  if (resource === undefined || more.length > 0) throw invalidGrant("assertion.resource");
  if (resource === mcpResourceOf(issuer)) return { kind: "mcp", resource };
  const api = policy.apisByResource.get(resource);
  if (!api || api.authorizationServer !== undefined) throw invalidGrant("assertion.resource");
  return { kind: "api", api, resource };
}

const spentKey = (idJag: IdJag) => `id-jag-jti:${idJag.iss}:${idJag.jti}`;

/**
 * A replay is told early, before any approval is looked at or consumed; the ID-JAG itself is
 * spent only by `spendIdJag`, once nothing else refuses.
 */
export async function requireUnspent(deps: ExchangeDeps, idJag: IdJag): Promise<void> {
  if ((await deps.store.get(spentKey(idJag))) !== undefined) throw invalidGrant("assertion.replay");
}

/**
 * RFC 7523 §3 (7): the `jti` is spent once, atomically across every node, kept until the
 * ID-JAG has expired (plus the skew it is accepted with). Keyed by issuer: two issuers' `jti`
 * spaces are unrelated. A store that cannot answer refuses (503), never lets it through.
 */
export async function spendIdJag(deps: ExchangeDeps, idJag: IdJag, now: number): Promise<void> {
  const skew = deps.active().policy.broker.clockSkew;
  const keepMs = (Math.max(idJag.exp - (now - skew), 0) + 60) * 1000;
  const fresh = await deps.store.add(spentKey(idJag), idJag.exp, keepMs);
  if (!fresh) throw invalidGrant("assertion.replay");
}

/** Runs a read of the unverified token; a malformed one is the grant's refusal too. */
function refusedAs<T>(rule: AssertionRule, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw invalidGrant(rule, err);
  }
}
