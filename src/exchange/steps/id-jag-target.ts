/**
 * The one target of an ID-JAG request (draft-ietf-oauth-identity-assertion-authz-grant §4.3):
 * `audience` is the issuer of the outside authorization server, matched exactly against an
 * API's `authorization_server`; `resource` (RFC 8707, optional) picks the API there. The issued
 * `aud`, `resource` and `client_id` come from the registry, never from request text (rule 3).
 *
 * @module exchange/steps/id-jag-target
 */

import { invalidRequest, invalidTarget } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import { TOKEN_TYPE } from "../../tokens/token-types.js";
import type { TokenExchangeRequest } from "../types.js";
import { apisOf, isResourceUri } from "./target.js";

/**
 * An ID-JAG's lifetime when the request names none, in seconds: 5 minutes (design §3.4; the
 * draft's §4.3.2 example answers `expires_in: 300`); rule 2 may shorten it further.
 */
export const ID_JAG_TTL = 300;

/** An API behind an outside authorization server, and the agent's client there. */
export interface IdJagTarget {
  readonly api: Api & { readonly authorizationServer: string };
  /** The agent's `client_id` at that server (policy `client_ids`): the ID-JAG's `client_id`. */
  readonly clientId: string;
}

export function resolveIdJagTarget(
  policy: Policy,
  request: TokenExchangeRequest,
  agent: Agent,
): IdJagTarget {
  if (request.audiences.length > 1 || request.resources.length > 1) {
    throw invalidTarget("Only one target may be requested", "target.many");
  }
  const [issuer] = request.audiences;
  const [resource] = request.resources;
  if (issuer === undefined) {
    // Draft §4.3: `audience` (the authorization server's issuer) is REQUIRED.
    throw invalidRequest(
      '"audience" must name the authorization server of an ID-JAG',
      "request.audience_missing",
    );
  }
  if (resource !== undefined && !isResourceUri(resource)) {
    throw invalidTarget(
      '"resource" must be an absolute URI without a fragment',
      "target.resource_form",
    );
  }
  const api = pickApi(policy, agent, issuer, resource);
  const clientId = api.clientIds?.get(agent.id);
  if (clientId === undefined) {
    throw invalidTarget(
      "This agent has no client at the authorization server of the target",
      "target.client_id",
    );
  }
  return { api, clientId };
}

/** The API at `issuer` that `resource` names, or its only API when no resource is named. */
function pickApi(
  policy: Policy,
  agent: Agent,
  issuer: string,
  resource: string | undefined,
): IdJagTarget["api"] {
  // Byte for byte, as for `resource` (target.ts): one spelling, one server.
  const atServer = [...policy.apis.values()].filter(
    (api): api is IdJagTarget["api"] => api.authorizationServer === issuer,
  );
  const named = resource === undefined ? undefined : policy.apisByResource.get(resource);
  if (atServer.length === 0 || (named && named.authorizationServer === undefined)) {
    // An API of ours (named by resource, or by id or resource where the issuer belongs) that
    // takes access tokens: say so plainly, rather than that it is unknown.
    const ours = named ?? policy.apis.get(issuer) ?? policy.apisByResource.get(issuer);
    if (ours && ours.authorizationServer === undefined) {
      throw invalidTarget(
        "The target has no authorization server of its own: request an access token",
        "target.not_id_jag",
      );
    }
    throw unknown(policy, agent);
  }
  if (resource === undefined) {
    if (atServer.length === 1) return atServer[0] as IdJagTarget["api"];
    throw invalidTarget(
      'Several APIs share this authorization server: name one with "resource"',
      "target.many",
    );
  }
  const api = atServer.find((a) => a.resource === resource);
  if (!api) throw unknown(policy, agent);
  return api;
}

/**
 * How a client names `api` in a request: by its id for an access token, or (design §3.4) for
 * an API behind its own authorization server, an ID-JAG with that server and the API's resource.
 */
export const naming = (api: Api): Partial<TokenExchangeRequest> =>
  api.authorizationServer === undefined
    ? { audiences: [api.id] }
    : {
        requestedTokenType: TOKEN_TYPE.idJag,
        audiences: [api.authorizationServer],
        resources: [api.resource],
      };

const unknown = (policy: Policy, agent: Agent) =>
  invalidTarget("The requested target is not known", "target.unknown", {
    apis: apisOf(policy, agent),
  });
