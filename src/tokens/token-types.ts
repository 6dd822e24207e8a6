/**
 * Token type URIs (RFC 8693 §3) and the JOSE `typ` values Baton issues.
 *
 * @module tokens/token-types
 */

export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

export const TOKEN_TYPE = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  refreshToken: "urn:ietf:params:oauth:token-type:refresh_token",
  /** draft-ietf-oauth-identity-assertion-authz-grant §3: an ID-JAG, for an outside server. */
  idJag: "urn:ietf:params:oauth:token-type:id-jag",
} as const;

/** RFC 7523 §2.1: the JWT bearer authorization grant (how an ID-JAG is redeemed). */
export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** draft-ietf-oauth-identity-assertion-authz-grant §7.2: metadata's profile for ID-JAGs. */
export const ID_JAG_PROFILE = "urn:ietf:params:oauth:grant-profile:id-jag";

/** draft-ietf-oauth-identity-assertion-authz-grant §3.1 (RFC 8725 §3.11): the ID-JAG's typ. */
export const ID_JAG_TYP = "oauth-id-jag+jwt";

/** RFC 7523 §2.2: the client assertion type of `private_key_jwt`. */
export const JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** RFC 9068 §2.1: every access token Baton issues for an API. */
export const ACCESS_TOKEN_TYP = "at+jwt";

/**
 * A delegation token is addressed to the broker, never to an API. Its own `typ` keeps an
 * RFC 9068 resource server (which requires `at+jwt`) from ever accepting it (design §3.4).
 */
export const DELEGATION_TOKEN_TYP = "delegation+jwt";

/** Subject tokens printed by `baton dev-token`. */
export const DEV_TOKEN_TYP = "JWT";

/** The algorithms Baton signs with; verification of its own tokens accepts only these. */
export const BROKER_ALGORITHMS = ["EdDSA", "ES256"] as const;
