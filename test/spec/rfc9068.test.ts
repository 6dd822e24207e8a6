/**
 * RFC 9068 §2: the JWT profile of the access tokens Baton issues for APIs, verified the way a
 * resource server would: against the JWKS the broker serves (jose createRemoteJWKSet).
 * A delegation token is addressed to the broker and must fail that verification.
 */

import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";
const FLIGHTS = "https://flights.example.com";
const DOCS = "https://docs.example.com/api";

let broker: TestBroker;
let jwks: JWTVerifyGetKey;
beforeAll(async () => {
  broker = await startTestBroker();
  jwks = createRemoteJWKSet(new URL(`${broker.url}/.well-known/jwks.json`));
});
afterAll(() => broker.close());

/** Exchanges `subject` as `agent` and returns the issued token. */
async function exchange(
  agent: string,
  subject: string,
  form: Record<string, string>,
  b = broker,
): Promise<string> {
  const res = await b.post(
    "/token",
    {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subject,
      subject_token_type: TOKEN_TYPE.jwt,
      ...form,
    },
    agent,
  );
  const body = (await res.json()) as Record<string, string>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token as string;
}

/** An access token for the docs API, straight from the user's token. */
async function docsToken(b = broker): Promise<string> {
  return exchange(
    "orchestrator",
    await b.devToken(USER),
    { resource: DOCS, scope: "docs.read" },
    b,
  );
}

/** Verifies as an RFC 9068 resource server for `audience` would, at the broker's time. */
function verifyAsResourceServer(token: string, audience: string, b = broker, keys = jwks) {
  return jwtVerify(token, keys, {
    typ: "at+jwt",
    issuer: b.issuer,
    audience,
    algorithms: ["EdDSA", "ES256"],
    requiredClaims: ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"],
    currentDate: new Date(b.clock.now() * 1000),
  });
}

describe("RFC 9068 §2.1 header", () => {
  it("rfc9068 §2.1: typ is at+jwt and kid names a key of the JWKS", async () => {
    const token = await docsToken();
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: "EdDSA", typ: "at+jwt", kid: expect.any(String) });
    const served = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(served.keys.map((k) => k.kid)).toContain(header.kid);
  });
});

describe("RFC 9068 §2.2 claims", () => {
  it("rfc9068 §2.2: iss, exp, aud (one string: the API), sub, client_id, iat, jti, scope", async () => {
    const token = await docsToken();
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: broker.issuer,
      aud: DOCS,
      sub: USER,
      client_id: "orchestrator",
      iat: broker.clock.now(),
      exp: broker.clock.now() + broker.policy.broker.defaultTtl,
      jti: expect.stringMatching(/^[\w-]{16,}$/),
      scope: "docs.read",
    });
    expect(typeof claims.aud).toBe("string");
    expect(claims).not.toHaveProperty("may_act");
  });

  it("rfc9068 §2.2: every token has its own jti", async () => {
    const jtis = new Set<unknown>();
    for (let i = 0; i < 5; i++) jtis.add(decodeJwt(await docsToken()).jti);
    expect(jtis.size).toBe(5);
  });

  it("rfc9068 §2.2: a sub-agent's access token carries act and never may_act", async () => {
    const user = await broker.devToken(USER);
    const delegation = await exchange("orchestrator", user, {
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "flights.search",
    });
    expect(decodeJwt(delegation)).toHaveProperty("may_act");
    const token = await exchange("flight-booker", delegation, {
      resource: FLIGHTS,
      scope: "flights.search",
    });
    const claims = decodeJwt(token);
    expect(claims).not.toHaveProperty("may_act");
    expect(claims).toMatchObject({
      aud: FLIGHTS,
      client_id: "flight-booker",
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
  });
});

describe("RFC 9068 §4 validation by a resource server", () => {
  it("rfc9068 §4: the token verifies against the served JWKS with typ at+jwt", async () => {
    const token = await docsToken();
    const { payload, protectedHeader } = await verifyAsResourceServer(token, DOCS);
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload).toMatchObject({ sub: USER, aud: DOCS, scope: "docs.read" });
  });

  it("rfc9068 §4: another API's resource server rejects it (aud)", async () => {
    const token = await docsToken();
    await expect(verifyAsResourceServer(token, FLIGHTS)).rejects.toBeInstanceOf(
      errors.JWTClaimValidationFailed,
    );
  });

  it.each<[string, () => string]>([
    ["an API's", () => FLIGHTS],
    ["the broker's own", () => broker.issuer],
  ])(
    "rfc9068 §4: a delegation token fails resource-server verification, even for %s audience",
    async (_, audience) => {
      const delegation = await exchange("orchestrator", await broker.devToken(USER), {
        requested_token_type: TOKEN_TYPE.jwt,
        audience: "flight-booker",
        scope: "flights.search",
      });
      expect(decodeProtectedHeader(delegation).typ).not.toBe("at+jwt");
      // Its signature is good; its typ (and its aud, the broker) are not an API's.
      await expect(verifyAsResourceServer(delegation, audience())).rejects.toMatchObject({
        code: "ERR_JWT_CLAIM_VALIDATION_FAILED",
        claim: "typ",
      });
    },
  );

  it("rfc9068 §4: an expired token fails verification", async () => {
    const token = await docsToken();
    broker.clock.advance(broker.policy.broker.defaultTtl + 1);
    await expect(verifyAsResourceServer(token, DOCS)).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it("rfc9068 §2.1: with signing_alg ES256 the header and JWKS follow", async () => {
    const b = await startTestBroker({
      editPolicy: (data) => {
        data.broker.signing_alg = "ES256";
      },
    });
    try {
      const token = await docsToken(b);
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", typ: "at+jwt" });
      const keys = createRemoteJWKSet(new URL(`${b.url}/.well-known/jwks.json`));
      const { payload } = await verifyAsResourceServer(token, DOCS, b, keys);
      expect(payload.aud).toBe(DOCS);
    } finally {
      await b.close();
    }
  });
});
