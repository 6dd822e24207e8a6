/**
 * What every scenario shares: the outside identity provider whose private key this process
 * holds (it mints the subject tokens), the agents and their secrets, the bench policy (N APIs)
 * and the request bodies, written to files that the load generator cycles through.
 */

import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { stringify } from "yaml";

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const TOKEN_TYPE = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
} as const;

export const IDP_ISSUER = "https://idp.bench.example";
/** The agents: a1 delegates to a2, a2 to a3 … a4 to a5 (the depth-5 chain). */
export const AGENTS = ["a1", "a2", "a3", "a4", "a5"] as const;
export type AgentId = (typeof AGENTS)[number];

export const apiId = (i: number) => `api${i}`;
export const apiResource = (i: number) => `https://api${i}.bench.example`;
export const apiScope = (i: number) => `api${i}.read`;

export interface Idp {
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function makeIdp(alg: string): Promise<Idp> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: "idp-1", alg, use: "sig" };
  return { alg, privateKey, publicJwk };
}

/** A private JWK of a fresh key (the peer's signing key). */
export async function privateJwk(alg: string, kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  return { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
}

export interface SubjectClaims {
  readonly sub: string;
  /** The broker's issuer, or `<issuer>/mcp` for an MCP bearer token. */
  readonly aud: string;
  /** The agent it was issued to, if any. */
  readonly azp?: string;
  readonly ttl?: number;
}

/** A user's token from the outside identity provider. */
export function mintSubject(idp: Idp, claims: SubjectClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: claims.sub,
    ...(claims.azp === undefined ? {} : { azp: claims.azp }),
    jti: randomBytes(12).toString("base64url"),
  })
    .setProtectedHeader({ alg: idp.alg, typ: "JWT", kid: "idp-1" })
    .setIssuer(IDP_ISSUER)
    .setAudience(claims.aud)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.ttl ?? 2 * 3600))
    .sign(idp.privateKey);
}

/** `count` subject tokens, each for a different user (distinct `sub` and `jti`). */
export async function mintMany(idp: Idp, aud: string, count: number): Promise<string[]> {
  const out: string[] = new Array(count);
  const BATCH = 200;
  for (let start = 0; start < count; start += BATCH) {
    const end = Math.min(count, start + BATCH);
    const batch: Promise<void>[] = [];
    for (let i = start; i < end; i++) {
      batch.push(
        mintSubject(idp, { sub: `user-${i}@example.com`, aud }).then((t) => {
          out[i] = t;
        }),
      );
    }
    await Promise.all(batch);
  }
  return out;
}

export type Secrets = Record<AgentId, string>;

export function makeSecrets(): Secrets {
  return Object.fromEntries(
    AGENTS.map((id) => [id, randomBytes(24).toString("base64url")]),
  ) as Secrets;
}

const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** RFC 6749 §2.3.1: client_secret_basic, id and secret form-urlencoded first. */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}

export interface PolicyOptions {
  readonly dir: string;
  /** The broker's issuer: the `aud` the outside issuer's tokens carry. */
  readonly issuer: string;
  readonly alg: string;
  readonly idp: Idp;
  readonly secrets: Secrets;
  readonly apiCount: number;
}

/**
 * The bench policy (design §3.3): N APIs with one scope each, none elevated; the outside
 * issuer with an inline JWKS; five agents along one delegation line; no rate limits. a1 may
 * hold every API's scope, a2…a5 the first ten.
 */
export async function writePolicy(o: PolicyOptions): Promise<void> {
  await mkdir(o.dir, { recursive: true });
  const apis: Record<string, unknown> = {};
  for (let i = 0; i < o.apiCount; i++) {
    apis[apiId(i)] = {
      resource: apiResource(i),
      description: `Bench API ${i}`,
      scopes: { [apiScope(i)]: `Read API ${i}` },
    };
  }
  const all = Array.from({ length: o.apiCount }, (_, i) => apiScope(i));
  const firstTen = all.slice(0, 10);
  const agents: Record<string, unknown> = {};
  AGENTS.forEach((id, k) => {
    const next = AGENTS[k + 1];
    agents[id] = {
      description: `Bench agent ${id}`,
      secret_sha256: sha256Hex(o.secrets[id]),
      scopes: id === "a1" ? all : firstTen,
      ...(next === undefined ? {} : { delegate_to: [next] }),
    };
  });
  const broker = {
    broker: {
      signing_alg: o.alg,
      default_ttl: "5m",
      max_ttl: "1h",
      max_depth: 5,
      dev_issuer: false,
    },
    issuers: [
      {
        issuer: IDP_ISSUER,
        jwks: { keys: [o.idp.publicJwk] },
        audience: o.issuer,
        algorithms: [o.alg],
      },
    ],
  };
  await writeFile(join(o.dir, "broker.yaml"), stringify(broker));
  await writeFile(join(o.dir, "apis.yaml"), stringify({ apis }));
  await writeFile(join(o.dir, "agents.yaml"), stringify({ agents }));
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** A `/token` body: exchange `subjectToken` for an access token to API `api`. */
export function accessBody(
  subjectToken: string,
  api: number,
  subjectTokenType: string = TOKEN_TYPE.accessToken,
): string {
  return form({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: subjectTokenType,
    audience: apiId(api),
    scope: apiScope(api),
  });
}

/** A `/token` body asking for a delegation token for sub-agent `to`. */
export function delegationBody(
  subjectToken: string,
  subjectTokenType: string,
  to: string,
  api: number,
): string {
  return form({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: subjectTokenType,
    requested_token_type: TOKEN_TYPE.jwt,
    audience: to,
    scope: apiScope(api),
    ttl_seconds: "1800",
  });
}

/** The peer's body for the same exchange: RFC 8707 `resource` names the API. */
export function peerBody(subjectToken: string, api: number): string {
  return form({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: TOKEN_TYPE.accessToken,
    resource: apiResource(api),
    scope: apiScope(api),
  });
}

/** Writes one body per line: the load generator sends them in turn. */
export async function writeBodies(file: string, bodies: readonly string[]): Promise<string> {
  await writeFile(file, `${bodies.join("\n")}\n`);
  return file;
}
