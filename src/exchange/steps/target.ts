/**
 * Resolves the one target of a request (RFC 8693 §2.1, RFC 8707): an API for an access token,
 * a sub-agent for a delegation token (an ID-JAG's is id-jag-target.ts). The issued `aud` always
 * comes from the registry, never from request text (rule 3).
 *
 * @module exchange/steps/target
 */

import { invalidRequest, invalidTarget } from "../../errors.js";
import type { Agent, Api, Policy } from "../../policy/types.js";
import type { TokenExchangeRequest } from "../types.js";

/**
 * The API an access token is for. An unknown target's refusal lists the APIs `agent` may ask
 * for (those its scopes belong to), so that a caller learns nothing of APIs it cannot use. An
 * API behind its own authorization server takes ID-JAGs only (design §3.4): its tokens are
 * that server's to issue, never Baton's.
 */
export function resolveApi(policy: Policy, request: TokenExchangeRequest, agent?: Agent): Api {
  const api = resolveAnyApi(policy, request, agent);
  if (api.authorizationServer !== undefined) throw idJagOnly();
  return api;
}

const idJagOnly = () =>
  invalidTarget(
    "The target has its own authorization server: request an ID-JAG for it",
    "target.id_jag_only",
  );

/** The one API a request names, whatever kind of token it may receive. */
export function resolveAnyApi(policy: Policy, request: TokenExchangeRequest, agent?: Agent): Api {
  const apiOr = (api: Api | undefined, named?: string): Api => {
    if (api) return api;
    // The issuer of an API's authorization server, as an access token's audience.
    if (
      named !== undefined &&
      [...policy.apis.values()].some((a) => a.authorizationServer === named)
    ) {
      throw idJagOnly();
    }
    throw invalidTarget("The requested target is not known", "target.unknown", {
      apis: agent ? apisOf(policy, agent) : [...policy.apis.keys()],
    });
  };
  const named = new Set<Api>();
  for (const resource of request.resources) {
    if (!isResourceUri(resource)) {
      throw invalidTarget(
        '"resource" must be an absolute URI without a fragment',
        "target.resource_form",
      );
    }
    // Byte for byte: no trimming, no case folding, no normalisation (one spelling, one API).
    named.add(apiOr(policy.apisByResource.get(resource)));
  }
  // `audience` is a logical name (RFC 8693 §2.1): the API id, or its resource URI.
  for (const audience of request.audiences) {
    named.add(apiOr(policy.apis.get(audience) ?? policy.apisByResource.get(audience), audience));
  }
  if (named.size > 1) throw invalidTarget("Only one target may be requested", "target.many");
  const [api] = named;
  if (api) return api;
  return inferApiFromScopes(policy, request.scopes);
}

/** A delegation token's target: `audience` names the sub-agent; `resource` has no place. */
export function resolveSubAgent(policy: Policy, request: TokenExchangeRequest, from: Agent): Agent {
  if (request.resources.length > 0) {
    throw invalidTarget(
      "A delegation token is requested with audience only",
      "target.delegation_resource",
    );
  }
  if (request.audiences.length > 1)
    throw invalidTarget("Only one target may be requested", "target.many");
  const id = request.audiences[0];
  if (id === undefined) {
    throw invalidRequest(
      '"audience" must name the sub-agent of a delegation',
      "request.audience_missing",
    );
  }
  const agent = policy.agents.get(id);
  // Rule 5: delegate only along the edges the policy draws.
  if (!agent || !from.delegateTo.has(id)) {
    throw invalidTarget("Delegation to this agent is not allowed", "delegate.edge", {
      delegateTo: [...from.delegateTo],
    });
  }
  return agent;
}

/**
 * RFC 8707 §2: an absolute URI (RFC 3986 §4.3: scheme ":" hier-part [ "?" query ]), with no
 * fragment. Only URI characters: no space, tab, NBSP or other text a lenient parser would
 * quietly strip before comparing.
 */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?[\]@!$&'()*+,;=%]*$/;

export function isResourceUri(text: string): boolean {
  return ABSOLUTE_URI.test(text) && URL.canParse(text);
}

/** The ids of the APIs an agent holds scopes of, in policy order. */
export function apisOf(policy: Policy, agent: Agent): string[] {
  const held = new Set([...agent.scopes].map((s) => policy.scopes.get(s)?.api));
  return [...policy.apis.keys()].filter((id) => held.has(id));
}

/** With no target, scopes (each of which belongs to exactly one API) may still name it. */
function inferApiFromScopes(policy: Policy, scopes: readonly string[] | undefined): Api {
  const apis = new Set((scopes ?? []).map((s) => policy.scopes.get(s)?.api));
  const [id] = apis;
  if (apis.size === 1 && id !== undefined) {
    const api = policy.apis.get(id);
    if (api) return api;
  }
  throw invalidRequest('"resource" or "audience" is required', "request.target_missing");
}
