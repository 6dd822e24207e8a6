/**
 * `idJagIfOutside` over HTTP (mcp/remote-broker.ts): `POST /token` names one token type, so the
 * remote mode learns which APIs are behind their own authorization server (design §3.4) from
 * the broker's own discovery answer (`POST /whoami`), once per API, and asks for an ID-JAG for
 * those. What it learnt is dropped when a target is refused: a policy reload may have moved the
 * API, and the next call asks afresh.
 *
 * @module mcp/remote-outside
 */

import { BatonError } from "../errors.js";
import type { SessionView, TokenExchangeRequest } from "../exchange/broker.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";

interface Outside {
  readonly authorizationServer: string;
  readonly resource: string;
}

/** An agent names a few APIs; the bound keeps invented names from growing the map. */
const MAX_KNOWN = 64;

export function outsideRoutes(describe: (request: TokenExchangeRequest) => Promise<SessionView>) {
  const known = new Map<string, Outside | "access">();
  const nameOf = (request: TokenExchangeRequest) => request.audiences[0] ?? request.resources[0];

  async function learn(request: TokenExchangeRequest, api: string): Promise<Outside | "access"> {
    let apis: SessionView["apis"];
    try {
      apis = (await describe(request)).apis;
    } catch (err) {
      // The exchange that follows is refused for the same cause, and says it.
      if (err instanceof BatonError) return "access";
      throw err;
    }
    const listed = apis.find((a) => a.id === api || a.resource === api);
    if (!listed) return "access";
    const served: Outside | "access" =
      listed.authorization_server === undefined
        ? "access"
        : { authorizationServer: listed.authorization_server, resource: listed.resource };
    if (known.size < MAX_KNOWN) known.set(api, served);
    return served;
  }

  return {
    /** The request as `POST /token` takes it: for an outside API, an ID-JAG (audience, resource). */
    async route(request: TokenExchangeRequest): Promise<TokenExchangeRequest> {
      const api = nameOf(request);
      if (!request.idJagIfOutside || request.requestedTokenType !== TOKEN_TYPE.accessToken) {
        return request;
      }
      if (api === undefined) return request;
      const served = known.get(api) ?? (await learn(request, api));
      if (served === "access") return request;
      return {
        ...request,
        requestedTokenType: TOKEN_TYPE.idJag,
        audiences: [served.authorizationServer],
        resources: [served.resource],
      };
    },
    /** After a refusal: a refused target may be one whose kind changed. */
    forget(request: TokenExchangeRequest, err: unknown): void {
      const api = nameOf(request);
      if (api !== undefined && err instanceof BatonError && err.code === "invalid_target") {
        known.delete(api);
      }
    },
  };
}
