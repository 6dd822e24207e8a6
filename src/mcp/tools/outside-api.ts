/**
 * `request_token` for an API behind its own authorization server (design §3.4): Baton issues
 * an ID-JAG for it, never an access token, and the agent redeems it at that server's token
 * endpoint with the JWT bearer grant (RFC 7523 §2.1; draft-ietf-oauth-identity-assertion-authz-grant
 * §4.4). Which APIs those are is the broker's answer (`describe`, the same in the embedded and
 * the remote mode), kept per session; the token endpoint is the server's own RFC 8414 metadata.
 *
 * @module mcp/tools/outside-api
 */

import { systemClock } from "../../clock.js";
import { BatonError } from "../../errors.js";
import type { ExchangeResult, TokenExchangeRequest } from "../../exchange/broker.js";
import { tokenEndpoints } from "../../tokens/outside-servers.js";
import { JWT_BEARER_GRANT, TOKEN_TYPE } from "../../tokens/token-types.js";
import type { Session } from "../session.js";

/** An API behind its own authorization server, as whoami shows it. */
export interface OutsideApi {
  /** The server's issuer: the ID-JAG's `audience`. */
  readonly authorizationServer: string;
  readonly resource: string;
}

/** Per session: each API named so far, by the name it was named with, and how it is served. */
const known = new WeakMap<Session, Map<string, OutsideApi | "access">>();
/** A session names a few APIs; the bound keeps a model that invents names from growing it. */
const MAX_KNOWN = 64;

/** One cache for the process: the servers' metadata is the same for every session. */
const lookup = tokenEndpoints();

/**
 * The outside server behind `api` (an id or a resource URI), or undefined for an API that takes
 * access tokens, or one this session is not offered (the exchange then says why).
 */
export async function outsideApi(
  session: Session,
  api: string,
  subjectToken: string | undefined,
): Promise<OutsideApi | undefined> {
  const apis = known.get(session) ?? new Map<string, OutsideApi | "access">();
  known.set(session, apis);
  const kept = apis.get(api);
  if (kept !== undefined) return kept === "access" ? undefined : kept;
  let offered: readonly { id: string; resource: string; authorization_server?: string }[];
  try {
    const token = subjectToken ?? (await session.subjectToken());
    const view = await session.broker.describe(
      { subjectToken: token, subjectTokenType: TOKEN_TYPE.jwt },
      session.caller,
    );
    offered = view.apis;
  } catch (err) {
    // The exchange that follows refuses the same token with its own, audited, cause.
    if (err instanceof BatonError) return undefined;
    throw err;
  }
  const listed = offered.find((a) => a.id === api || a.resource === api);
  if (!listed) return undefined;
  const served: OutsideApi | "access" =
    listed.authorization_server === undefined
      ? "access"
      : { authorizationServer: listed.authorization_server, resource: listed.resource };
  if (apis.size < MAX_KNOWN) apis.set(api, served);
  return served === "access" ? undefined : served;
}

/**
 * A refused target: what was kept of `api` may be stale (a policy reload moved the API behind a
 * server of its own, or back), so the next call asks the broker again.
 */
export function forgetOnTargetRefusal(session: Session, api: string, err: unknown): void {
  if (err instanceof BatonError && err.code === "invalid_target") known.get(session)?.delete(api);
}

/** The request for an ID-JAG (design §3.4): audience the server, resource the API. */
export function idJagRequest(ask: TokenExchangeRequest, outside: OutsideApi): TokenExchangeRequest {
  return {
    ...ask,
    requestedTokenType: TOKEN_TYPE.idJag,
    audiences: [outside.authorizationServer],
    resources: [outside.resource],
  };
}

/** The server's token endpoint; never throws, never holds the ID-JAG back for long. */
export function tokenEndpointOf(outside: OutsideApi): Promise<string | undefined> {
  return lookup(outside.authorizationServer, systemClock.now());
}

const redeem = `POST grant_type=${JWT_BEARER_GRANT} and assertion=<id_jag>, with this agent's own client credentials at that server`;

/** The `request_token` result for an ID-JAG, with how to redeem it. */
export function idJagResult(
  out: ExchangeResult,
  outside: OutsideApi,
  endpoint: string | undefined,
) {
  const resource = out.resource ?? outside.resource;
  return {
    id_jag: out.token,
    token_type: out.tokenType,
    issued_token_type: out.issuedTokenType,
    expires_in: out.expiresIn,
    scope: out.scopes.join(" "),
    audience: out.authorizationServer ?? outside.authorizationServer,
    resource,
    ...(endpoint === undefined ? {} : { token_endpoint: endpoint }),
    hint:
      endpoint === undefined
        ? `This API is behind its own authorization server, whose metadata could not be read now: find its token_endpoint in ${outside.authorizationServer}/.well-known/oauth-authorization-server, then ${redeem}. The access token it returns is for ${resource}.`
        : `Redeem it at token_endpoint: ${redeem}. The access token it returns is for ${resource}; the ID-JAG is single-use and short-lived.`,
    ...(out.txn === undefined ? {} : { task_id: out.txn }),
  };
}
