/**
 * RFC 8414 authorization server metadata and the JWKS (public members only).
 *
 * @module http/metadata
 */

import type { Context } from "hono";
import { ID_JAG_PROFILE, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT } from "../tokens/token-types.js";
import { mcpResourceOf, PATHS } from "../urls.js";
import type { HttpContext } from "./context.js";
import { acceptsIdJags } from "./jwt-bearer-request.js";

const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
const ASSERTION_ALGS = ["EdDSA", "ES256", "ES384", "PS256", "RS256"];

export function metadataEndpoint(ctx: HttpContext) {
  return (c: Context) => {
    const { issuer } = ctx.broker;
    const policy = ctx.broker.policy();
    // Design §3.2: the JWT bearer grant is listed while some issuer's ID-JAGs are accepted,
    // with the profile it follows (draft §7: never which issuers, §8.4).
    const idJag = acceptsIdJags(policy);
    return c.json(
      {
        issuer,
        token_endpoint: `${issuer}${PATHS.token}`,
        jwks_uri: `${issuer}${PATHS.jwks}`,
        introspection_endpoint: `${issuer}${PATHS.introspect}`,
        revocation_endpoint: `${issuer}${PATHS.revoke}`,
        // RFC 8414 §2 makes this REQUIRED; Baton has no authorization endpoint, so none.
        response_types_supported: [],
        grant_types_supported: idJag
          ? [TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT]
          : [TOKEN_EXCHANGE_GRANT],
        ...(idJag ? { authorization_grant_profiles_supported: [ID_JAG_PROFILE] } : {}),
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
        revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        scopes_supported: [...policy.scopes.keys()],
      },
      200,
      { "Cache-Control": "public, max-age=300" },
    );
  };
}

/**
 * RFC 9728 protected resource metadata of `/mcp`. The authorization servers are those whose
 * tokens `/mcp` accepts: the trusted issuers, and Baton itself while its development issuer is
 * on or it redeems ID-JAGs (MCP Enterprise-Managed Authorization: the client asks its IdP for
 * an ID-JAG addressed to an authorization server listed here, then redeems it there).
 */
export function resourceMetadataEndpoint(ctx: HttpContext) {
  return (c: Context) => {
    const { issuer } = ctx.broker;
    const policy = ctx.broker.policy();
    return c.json(
      {
        resource: mcpResourceOf(issuer),
        authorization_servers: [
          ...(policy.broker.devIssuer || acceptsIdJags(policy) ? [issuer] : []),
          ...policy.issuers.keys(),
        ],
        bearer_methods_supported: ["header"],
        resource_name: "Baton MCP server",
      },
      200,
      { "Cache-Control": "public, max-age=300" },
    );
  };
}

export function jwksEndpoint(ctx: HttpContext) {
  return (c: Context) => c.json(ctx.broker.jwks(), 200, { "Cache-Control": "public, max-age=300" });
}
