/**
 * The peer: `oidc-provider` with an RFC 8693 token exchange grant registered through
 * `registerGrantType`, doing the work of one Baton exchange: authenticate the client (its own
 * client_secret_basic), verify the subject token with jose against the trusted issuer's key,
 * narrow the scope to the resource, and sign a JWT access token (RFC 9068, the provider's own
 * JWT access token format) with `act`, in the broker's algorithm. It keeps no record of what
 * it issued (JWT access tokens are not stored) and writes no audit log: less work than Baton.
 *
 * Usage: node --import tsx bench/servers/peer.ts CONFIG.json
 */

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { importJWK, type JWK, type JWTPayload, jwtVerify } from "jose";
import { errors, type GrantContext, Provider } from "oidc-provider";

export interface PeerConfig {
  readonly port: number;
  /** The peer's own issuer (its URL). */
  readonly issuer: string;
  /** The algorithm of both the subject tokens and the issued tokens. */
  readonly alg: string;
  /** The trusted issuer of subject tokens and the `aud` its tokens must carry. */
  readonly subjectIssuer: { readonly issuer: string; readonly audience: string; readonly jwk: JWK };
  /** The provider's signing key (private JWK, with `kid`). */
  readonly signingJwk: JWK;
  readonly clients: readonly { readonly id: string; readonly secret: string }[];
  /** resource URI → its space-separated scopes. */
  readonly resources: Record<string, string>;
}

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TOKEN_TYPES = new Set([ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:jwt"]);

const config = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as PeerConfig;
const subjectKey = await importJWK(config.subjectIssuer.jwk, config.alg);

/** The `act` claim of each token being issued, read back by the JWT customizer. */
const actOf = new WeakMap<object, Record<string, unknown>>();

const resourceInfo = (resource: string) => {
  const scope = config.resources[resource];
  if (scope === undefined) return undefined;
  return {
    scope,
    audience: resource,
    accessTokenTTL: 300,
    accessTokenFormat: "jwt",
    jwt: { sign: { alg: config.alg } },
  };
};

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.id,
    client_secret: c.secret,
    grant_types: [TOKEN_EXCHANGE],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    // The provider holds one key, in the bench's algorithm; its default (RS256) has none.
    id_token_signed_response_alg: config.alg,
  })),
  jwks: { keys: [config.signingJwk] },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (_ctx: unknown, resource: string) => {
        const info = resourceInfo(resource);
        if (!info) throw new errors.InvalidTarget();
        return info;
      },
    },
  },
  formats: {
    customizers: {
      jwt: (_ctx: unknown, token: object, jwt: { payload: Record<string, unknown> }) => {
        const act = actOf.get(token);
        if (act) jwt.payload.act = act;
      },
    },
  },
});

async function tokenExchange(ctx: GrantContext): Promise<void> {
  const { client, params } = ctx.oidc;
  const subjectToken = params.subject_token;
  if (subjectToken === undefined || params.subject_token_type === undefined) {
    throw new errors.InvalidRequest("subject_token and subject_token_type are required");
  }
  if (!SUBJECT_TOKEN_TYPES.has(params.subject_token_type)) {
    throw new errors.InvalidRequest("unsupported subject_token_type");
  }
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(subjectToken, subjectKey, {
      issuer: config.subjectIssuer.issuer,
      audience: config.subjectIssuer.audience,
      algorithms: [config.alg],
      requiredClaims: ["sub", "exp"],
      clockTolerance: 30,
    }));
  } catch {
    throw new errors.InvalidGrant("subject_token is invalid");
  }
  const resource = params.resource;
  const info = resource === undefined ? undefined : resourceInfo(resource);
  if (resource === undefined || !info) throw new errors.InvalidTarget();
  const allowed = new Set(info.scope.split(" "));
  const scope = (params.scope ?? "")
    .split(" ")
    .filter((s) => allowed.has(s))
    .join(" ");
  if (scope === "") throw new errors.InvalidScope("no requested scope is allowed");

  const token = new provider.AccessToken({
    accountId: claims.sub,
    client,
    gty: "token-exchange",
    scope,
    resourceServer: new provider.ResourceServer(resource, info),
  });
  // RFC 8693 §4.1: the acting client outermost, any prior chain nested.
  actOf.set(token, { sub: client.clientId, ...(claims.act ? { act: claims.act } : {}) });
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: token.expiration,
    scope,
  };
}

provider.registerGrantType(
  TOKEN_EXCHANGE,
  tokenExchange,
  [
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "resource",
    "audience",
    "scope",
  ],
  ["resource", "audience"],
);
provider.on("server_error", (_ctx: unknown, err: Error) => console.error(err));

createServer(provider.callback()).listen(config.port, "127.0.0.1");
