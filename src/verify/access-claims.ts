/**
 * What an API needs to know from a verified access token (RFC 9068 §2.2, RFC 8693 §4):
 * for whom, which agent, along which chain, in which task, with which scopes.
 *
 * @module verify/access-claims
 */

import { BearerError } from "./bearer-error.js";

export interface VerifiedToken {
  /** `sub`: the person (or service) on whose behalf the request is made. */
  readonly subject: string;
  /**
   * The outermost `act.sub`: the agent making this request. RFC 8693 §4.1: only the current
   * actor counts for access decisions; the rest of the chain is informational. Undefined only
   * for a token without `act` (an impersonation the issuer's policy allowed).
   */
  readonly actor: string | undefined;
  /** Every agent in the `act` chain, the current one first, then who delegated to it. */
  readonly chain: readonly string[];
  /** `txn`: the task the token was issued in, if any. */
  readonly txn: string | undefined;
  /** Every scope the token carries. */
  readonly scopes: readonly string[];
  /** `client_id`: the OAuth client the token was issued to. */
  readonly clientId: string;
  /** `exp`, epoch seconds. */
  readonly expiresAt: number;
  /** `iat`, epoch seconds. */
  readonly issuedAt: number;
  /** `jti`: the token's id, the one thing about a token that is safe to log. */
  readonly jti: string;
}

/** Agents in a chain beyond this are refused: Baton's own limit is 10. */
const MAX_CHAIN = 16;

/** Reads the result from claims whose signature, `iss`, `aud`, `exp` and `typ` are checked. */
export function readAccessClaims(claims: Record<string, unknown>): VerifiedToken {
  const { sub, client_id: clientId, jti, exp, iat, scope, txn } = claims;
  if (!nonEmpty(sub)) throw new BearerError("invalid_token", "claim.sub");
  if (!nonEmpty(clientId)) throw new BearerError("invalid_token", "claim.client_id");
  if (!nonEmpty(jti)) throw new BearerError("invalid_token", "claim.jti");
  if (typeof exp !== "number" || typeof iat !== "number")
    throw new BearerError("invalid_token", "claim.time");
  if (scope !== undefined && typeof scope !== "string")
    throw new BearerError("invalid_token", "claim.scope");
  if (txn !== undefined && !nonEmpty(txn)) throw new BearerError("invalid_token", "claim.txn");
  const chain = actChain(claims.act);
  return {
    subject: sub,
    actor: chain[0],
    chain,
    txn,
    scopes: (scope ?? "").split(" ").filter(Boolean),
    clientId,
    expiresAt: exp,
    issuedAt: iat,
    jti,
  };
}

/** RFC 8693 §4.1: the outermost `act` is the current actor; each nested one acted before it. */
function actChain(act: unknown): string[] {
  const chain: string[] = [];
  let node = act;
  while (node !== undefined) {
    if (typeof node !== "object" || node === null || chain.length >= MAX_CHAIN)
      throw new BearerError("invalid_token", "claim.act");
    const { sub, act: inner } = node as { sub?: unknown; act?: unknown };
    if (!nonEmpty(sub)) throw new BearerError("invalid_token", "claim.act");
    chain.push(sub);
    node = inner;
  }
  return chain;
}

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.length > 0;
