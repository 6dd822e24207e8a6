/**
 * Client authentication (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post` and
 * `private_key_jwt` (RFC 7523 §2.2, §3). The door extracts the credentials; this decides.
 *
 * Secrets are compared as SHA-256 digests in constant time, and an unknown client costs the
 * same comparison, so timing tells nothing. Every failure is the same `invalid_client`, and
 * counts against `broker.rate_limit.client_auth_failures` for the client id it claimed.
 *
 * @module exchange/operations/authenticate-client
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { BatonError, invalidClient } from "../../errors.js";
import { peekIssuer, verifyAgentJwt } from "../../tokens/verify.js";
import { clientAuthFailures } from "../steps/rate-limit.js";
import type { Caller, ExchangeDeps } from "../types.js";

export type ClientCredentials =
  | {
      readonly method: "client_secret_basic" | "client_secret_post";
      readonly clientId: string;
      readonly secret: string;
    }
  | { readonly method: "private_key_jwt"; readonly clientId?: string; readonly assertion: string }
  | { readonly method: "none"; readonly clientId?: string };

/** Longest a client assertion may live: its `jti` is remembered until then. */
const MAX_ASSERTION_LIFETIME = 600;

/** Compared against when the client is unknown or has no secret, so timing is the same. */
const DUMMY_DIGEST = createHash("sha256").update("baton:no-such-client").digest();

export async function authenticateClient(
  deps: ExchangeDeps,
  credentials: ClientCredentials,
  /** The URLs a client assertion may name as `aud`: the issuer and the endpoint it hit. */
  assertionAudiences: readonly string[],
): Promise<Caller> {
  const viaHeader = credentials.method === "client_secret_basic";
  const claimed = claimedClientId(credentials);
  const failures =
    claimed === undefined ? undefined : clientAuthFailures(deps, claimed, deps.clock.now());
  try {
    await failures?.check();
  } catch (err) {
    if (err instanceof BatonError && err.code === "slow_down") {
      deps.audit.record({ type: "client.auth_failed", rule: err.rule, ...loggable(claimed) });
    }
    throw err;
  }
  try {
    switch (credentials.method) {
      case "none":
        throw invalidClient("client.auth_missing", false);
      case "client_secret_basic":
      case "client_secret_post":
        return checkSecret(deps, credentials.clientId, credentials.secret, viaHeader);
      case "private_key_jwt":
        return await checkAssertion(
          deps,
          credentials.clientId,
          credentials.assertion,
          assertionAudiences,
        );
    }
  } catch (err) {
    if (err instanceof BatonError && err.code === "temporarily_unavailable") throw err;
    const rule = err instanceof BatonError ? err.rule : "client.auth";
    deps.audit.record({ type: "client.auth_failed", rule, ...loggable(claimed) });
    await failures?.count();
    throw err instanceof BatonError && err.code === "invalid_client"
      ? err
      : invalidClient(rule, viaHeader);
  }
}

/** The claimed id, for the audit line of a failure: only when short enough to be an id. */
const loggable = (claimed: string | undefined) =>
  claimed !== undefined && claimed.length <= 128 ? { client_id: claimed } : {};

/** The id the caller claims (unverified): for the audit trail of a failure only. */
function claimedClientId(credentials: ClientCredentials): string | undefined {
  if (credentials.clientId !== undefined || credentials.method !== "private_key_jwt") {
    return credentials.clientId;
  }
  try {
    return peekIssuer(credentials.assertion, "client.assertion");
  } catch {
    return undefined;
  }
}

function checkSecret(
  deps: ExchangeDeps,
  clientId: string,
  secret: string,
  viaHeader: boolean,
): Caller {
  const agent = deps.active().policy.agents.get(clientId);
  const expected = agent?.secretSha256 ? Buffer.from(agent.secretSha256, "hex") : DUMMY_DIGEST;
  const presented = createHash("sha256").update(secret, "utf8").digest();
  const match = timingSafeEqual(presented, expected.length === 32 ? expected : DUMMY_DIGEST);
  if (!agent?.secretSha256 || !match) throw invalidClient("client.secret", viaHeader);
  return { agentId: clientId };
}

async function checkAssertion(
  deps: ExchangeDeps,
  clientId: string | undefined,
  assertion: string,
  audiences: readonly string[],
): Promise<Caller> {
  // RFC 7523 §3: `iss` and `sub` are the client id.
  const id = peekIssuer(assertion, "client.assertion");
  if (clientId !== undefined && clientId !== id) throw invalidClient("client.assertion_id", false);
  const agent = deps.active().policy.agents.get(id);
  if (!agent?.jwks) throw invalidClient("client.assertion_unknown", false);
  const now = deps.clock.now();
  const claims = await verifyAgentJwt(
    assertion,
    agent.jwks,
    { issuer: id, audience: audiences, now, clockSkew: deps.active().policy.broker.clockSkew },
    "client.assertion",
  );
  if (claims.sub !== id) throw invalidClient("client.assertion_sub", false);
  const exp = claims.exp as number;
  if (exp - now > MAX_ASSERTION_LIFETIME) throw invalidClient("client.assertion_lifetime", false);
  // RFC 7523 §3 (7): the `jti` is single-use. Atomic add-if-absent, across every node.
  const fresh = await deps.store.add(
    `jti:${id}:${claims.jti as string}`,
    exp,
    (exp - now + 60) * 1000,
  );
  if (!fresh) throw invalidClient("client.assertion_replay", false);
  return { agentId: id };
}
