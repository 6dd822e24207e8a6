/**
 * `request_token` for an API behind its own authorization server (design §3.4): the broker
 * issues an ID-JAG for it, never an access token (the request says it takes either:
 * `idJagIfOutside`), and the agent redeems it at that server's token endpoint with the JWT
 * bearer grant (RFC 7523 §2.1; draft-ietf-oauth-identity-assertion-authz-grant §4.4). The token
 * endpoint is the server's own RFC 8414 metadata, looked up once the ID-JAG is issued.
 *
 * @module mcp/tools/outside-api
 */

import { systemClock } from "../../clock.js";
import type { ExchangeResult } from "../../exchange/broker.js";
import { tokenEndpoints } from "../../tokens/outside-servers.js";
import { JWT_BEARER_GRANT } from "../../tokens/token-types.js";

/** One cache for the process: a server's metadata is the same for every session. */
const lookup = tokenEndpoints();

const redeem = `POST grant_type=${JWT_BEARER_GRANT} and assertion=<id_jag>, with this agent's own client credentials at that server`;

/** The `request_token` result for an ID-JAG: where and how to redeem it. */
export async function idJagResult(out: ExchangeResult) {
  const server = out.authorizationServer ?? "";
  const resource = out.resource ?? "";
  // Never throws; slow only on a server's first lookup, and only up to its timeout.
  const endpoint = server === "" ? undefined : await lookup(server, systemClock.now());
  return {
    id_jag: out.token,
    token_type: out.tokenType,
    issued_token_type: out.issuedTokenType,
    expires_in: out.expiresIn,
    scope: out.scopes.join(" "),
    audience: server,
    resource,
    ...(endpoint === undefined ? {} : { token_endpoint: endpoint }),
    hint:
      endpoint === undefined
        ? `This API is behind its own authorization server, whose metadata could not be read now: find its token_endpoint in ${server}/.well-known/oauth-authorization-server, then ${redeem}. The access token it returns is for ${resource}.`
        : `Redeem it at token_endpoint: ${redeem}. The access token it returns is for ${resource}; the ID-JAG is single-use and short-lived.`,
    ...(out.txn === undefined ? {} : { task_id: out.txn }),
  };
}
