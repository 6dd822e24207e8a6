/**
 * RFC 8414 authorization server metadata and the JWKS it points to (design §3.2).
 * Real HTTP over loopback against a real broker.
 */

import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

/** JWK members that hold private key material (RFC 7517 §9.3, RFC 7518 §6, RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

async function getJson(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

const metadata = () => getJson(`${broker.url}/.well-known/oauth-authorization-server`);

describe("RFC 8414 §3 authorization server metadata", () => {
  it("rfc8414 §2: serves the fields of design §3.2", async () => {
    const m = await metadata();
    expect(m).toMatchObject({
      issuer: broker.issuer,
      token_endpoint: `${broker.issuer}/token`,
      jwks_uri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
      introspection_endpoint: `${broker.issuer}/introspect`,
      revocation_endpoint: `${broker.issuer}/revoke`,
      response_types_supported: expect.any(Array),
    });
    expect(m.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
    );
    expect(m.token_endpoint_auth_methods_supported).not.toContain("none");
    expect([...(m.scopes_supported as string[])].sort()).toEqual(
      [...broker.policy.scopes.keys()].sort(),
    );
  });

  it("rfc8414 §3.3: issuer is identical to the URL the metadata was fetched from", async () => {
    const m = await metadata();
    expect(m.issuer).toBe(broker.url);
    // Every endpoint lives under the issuer.
    for (const field of [
      "token_endpoint",
      "jwks_uri",
      "introspection_endpoint",
      "revocation_endpoint",
    ]) {
      expect(String(m[field]).startsWith(`${broker.url}/`)).toBe(true);
    }
  });

  it("rfc8414 §2: grant_types_supported has the token-exchange URN", async () => {
    const m = await metadata();
    expect(m.grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT);
    expect(TOKEN_EXCHANGE_GRANT).toBe("urn:ietf:params:oauth:grant-type:token-exchange");
  });

  it("rfc8414 §2: private_key_jwt comes with its signing algorithms, never none or HMAC", async () => {
    const m = await metadata();
    const algs = m.token_endpoint_auth_signing_alg_values_supported as string[];
    expect(algs.length).toBeGreaterThan(0);
    for (const alg of algs) expect(alg).not.toMatch(/^(none|HS\d+)$/);
  });

  it("rfc8414 §2: jwks_uri serves public keys only, each with kid, alg and use", async () => {
    const m = await metadata();
    const jwks = await getJson(m.jwks_uri as string);
    const keys = jwks.keys as Record<string, unknown>[];
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(key).toMatchObject({
        kid: expect.any(String),
        alg: broker.policy.broker.signingAlg,
        use: "sig",
        kty: "OKP",
        crv: "Ed25519",
        x: expect.any(String),
      });
    }
    expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length);
  });

  it("rfc8414 §2: the key that signs issued tokens is in the JWKS", async () => {
    const subject = await broker.devToken("alice@example.com");
    const res = await broker.post(
      "/token",
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: subject,
        subject_token_type: TOKEN_TYPE.jwt,
        audience: "calendar",
      },
      "orchestrator",
    );
    const { access_token } = (await res.json()) as { access_token: string };
    const jwks = await getJson((await metadata()).jwks_uri as string);
    const kids = (jwks.keys as { kid: string }[]).map((k) => k.kid);
    expect(kids).toContain(decodeProtectedHeader(access_token).kid);
  });
});
