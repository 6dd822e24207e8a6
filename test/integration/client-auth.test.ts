/**
 * Client authentication at the token endpoint (RFC 6749 §2.3, §5.2; RFC 7523 §2.2, §3):
 * client_secret_basic, client_secret_post and private_key_jwt, and every way they are refused.
 * A refusal is 401 invalid_client (with `WWW-Authenticate` only when the Authorization header
 * was used) or 400 invalid_request for a malformed request, and nothing is ever issued.
 */

import { randomUUID } from "node:crypto";
import { type CryptoKey, exportSPKI, importJWK, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  basicAuth,
  exchange,
  expectIssued,
  expectRefused,
  type Form,
  postForm,
  unsignedJwt,
} from "../helpers/assertions.js";
import {
  type KeyPair,
  keyPair,
  sha256Hex,
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** A secret with every character RFC 6749 §2.3.1 form-encoding exists for. */
const SPECIAL_SECRET = "p@ss:wörd+%/ &=x?#";

let broker: TestBroker;
let otherKey: KeyPair;
/** Every secret and assertion sent in this file: none may reach the audit log. */
const sensitive = new Set<string>();

beforeAll(async () => {
  otherKey = await keyPair("EdDSA", "researcher-1");
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.agents.special = { secret_sha256: sha256Hex(SPECIAL_SECRET), scopes: ["docs.read"] };
      // An agent with keys only: no secret can authenticate it.
      data.agents["key-only"] = { jwks: data.agents.researcher.jwks, scopes: ["docs.read"] };
    },
  });
  for (const secret of Object.values(broker.secrets)) sensitive.add(secret);
  sensitive.add(SPECIAL_SECRET);
});
afterAll(() => broker.close());

/** An exchange body for the docs API, with no client authentication in it. */
async function docsForm(extra: Form = {}): Promise<Form> {
  return {
    subject_token: await broker.devToken(USER),
    audience: "docs",
    scope: "docs.read",
    ...extra,
  };
}

/** POST /token with an exact Authorization header (or none) and the form as given. */
function send(form: Form, authorization?: string): Promise<Response> {
  if (authorization !== undefined) sensitive.add(authorization);
  const full = { grant_type: TOKEN_EXCHANGE_GRANT, subject_token_type: TOKEN_TYPE.jwt, ...form };
  return postForm(
    broker,
    "/token",
    full,
    undefined,
    authorization === undefined ? {} : { authorization },
  );
}

/** client_secret_post fields. */
function post(id: string, secret: string): Form {
  sensitive.add(secret);
  return { client_id: id, client_secret: secret };
}

/** A private_key_jwt assertion for the researcher (RFC 7523 §3), with claims overridden. */
async function assertion(
  claims: Partial<Record<keyof JWTPayload, unknown>> = {},
  key: KeyPair["privateKey"] = broker.researcherKey.privateKey,
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = broker.clock.now();
  const jwt = await new SignJWT({
    iss: "researcher",
    sub: "researcher",
    aud: broker.issuer,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    ...claims,
  } as JWTPayload)
    .setProtectedHeader({ alg: "EdDSA", kid: "researcher-1", ...header })
    .sign(key);
  sensitive.add(jwt);
  return jwt;
}

const viaAssertion = (jwt: string): Form => ({
  client_assertion_type: JWT_BEARER,
  client_assertion: jwt,
});

/** Expects 401 invalid_client, nothing issued, and the right `WWW-Authenticate` behaviour. */
async function expectUnauthenticated(response: Promise<Response>, viaHeader: boolean) {
  const { res } = await expectRefused(broker, response, 401, "invalid_client");
  if (viaHeader) expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="[^"]*"/);
  else expect(res.headers.get("www-authenticate")).toBeNull();
}

describe("client_secret_basic (RFC 6749 §2.3.1)", () => {
  it("authenticates with the id and secret in the Authorization header", async () => {
    const { claims } = await expectIssued(
      broker,
      exchange(broker, await docsForm(), "orchestrator"),
    );
    expect(claims.client_id).toBe("orchestrator");
  });

  it("form-urlencodes id and secret before base64 (a secret with : % + space and non-ASCII)", async () => {
    const { claims } = await expectIssued(
      broker,
      send(await docsForm(), basicAuth("special", SPECIAL_SECRET)),
    );
    expect(claims.client_id).toBe("special");
  });

  it("the scheme name is case-insensitive", async () => {
    const header = basicAuth("orchestrator", broker.secrets.orchestrator as string).replace(
      "Basic",
      "bAsIc",
    );
    await expectIssued(broker, send(await docsForm(), header));
  });

  it("a wrong secret: 401 with a Basic challenge", async () => {
    await expectUnauthenticated(
      send(await docsForm(), basicAuth("orchestrator", "wrong-secret")),
      true,
    );
    // Another agent's valid secret is still wrong for this one.
    await expectUnauthenticated(
      send(await docsForm(), basicAuth("orchestrator", broker.secrets["flight-booker"] as string)),
      true,
    );
    // The raw secret, not form-encoded: '+' means a space, so it no longer matches.
    const raw = `Basic ${Buffer.from("special:p@ss+x").toString("base64")}`;
    await expectUnauthenticated(send(await docsForm(), raw), true);
  });

  it("an unknown client: 401 with a Basic challenge", async () => {
    await expectUnauthenticated(send(await docsForm(), basicAuth("mallory", "anything")), true);
  });

  it("a secret for an agent that has keys only", async () => {
    await expectUnauthenticated(send(await docsForm(), basicAuth("key-only", "")), true);
    await expectUnauthenticated(send(await docsForm(), basicAuth("key-only", "guess")), true);
  });

  it("a client_id form parameter that differs from the header: 400", async () => {
    const header = basicAuth("orchestrator", broker.secrets.orchestrator as string);
    await expectRefused(
      broker,
      send(await docsForm({ client_id: "flight-booker" }), header),
      400,
      "invalid_request",
    );
    // The same id in both places is fine.
    await expectIssued(broker, send(await docsForm({ client_id: "orchestrator" }), header));
  });
});

describe("client_secret_post (RFC 6749 §2.3.1)", () => {
  it("authenticates with client_id and client_secret in the body", async () => {
    const { claims } = await expectIssued(
      broker,
      send(await docsForm(post("orchestrator", broker.secrets.orchestrator as string))),
    );
    expect(claims.client_id).toBe("orchestrator");
    await expectIssued(broker, send(await docsForm(post("special", SPECIAL_SECRET))));
  });

  it("a wrong secret: 401 without a challenge", async () => {
    await expectUnauthenticated(send(await docsForm(post("orchestrator", "wrong-secret"))), false);
  });

  it("an unknown client: 401 without a challenge", async () => {
    await expectUnauthenticated(send(await docsForm(post("mallory", "anything"))), false);
  });

  it("a secret without client_id: 400", async () => {
    await expectRefused(
      broker,
      send(await docsForm({ client_secret: "orchestrator-test-secret" })),
      400,
      "invalid_request",
    );
  });

  it("a client_id with an empty secret counts as no authentication: 401", async () => {
    await expectUnauthenticated(
      send(await docsForm({ client_id: "orchestrator", client_secret: "" })),
      false,
    );
  });
});

describe("no authentication, or two methods at once", () => {
  it("no credentials at all: 401", async () => {
    await expectRefused(broker, send(await docsForm()), 401, "invalid_client");
    // A client_id alone is not authentication.
    await expectRefused(
      broker,
      send(await docsForm({ client_id: "orchestrator" })),
      401,
      "invalid_client",
    );
    // An Authorization header of another scheme is not client authentication either.
    await expectRefused(
      broker,
      send(await docsForm(), "Bearer abc.def.ghi"),
      401,
      "invalid_client",
    );
  });

  it("two methods at once: 400 (RFC 6749 §2.3: MUST NOT use more than one)", async () => {
    const header = basicAuth("orchestrator", broker.secrets.orchestrator as string);
    const secretPost = post("orchestrator", broker.secrets.orchestrator as string);
    const jwt = await assertion();
    await expectRefused(broker, send(await docsForm(secretPost), header), 400, "invalid_request");
    await expectRefused(
      broker,
      send(await docsForm(viaAssertion(jwt)), header),
      400,
      "invalid_request",
    );
    await expectRefused(
      broker,
      send(await docsForm({ ...secretPost, ...viaAssertion(jwt) })),
      400,
      "invalid_request",
    );
  });

  it("a repeated credential parameter: 400", async () => {
    const form = await docsForm({
      client_id: "orchestrator",
      client_secret: ["orchestrator-test-secret", "x"],
    });
    await expectRefused(broker, send(form), 400, "invalid_request");
  });

  it("a disabled agent authenticates but may not exchange: 400 unauthorized_client", async () => {
    await expectRefused(
      broker,
      exchange(broker, await docsForm(), "retired"),
      400,
      "unauthorized_client",
    );
  });
});

describe("private_key_jwt (RFC 7523 §2.2, §3)", () => {
  it("an assertion addressed to the issuer", async () => {
    const { claims } = await expectIssued(
      broker,
      send(await docsForm(viaAssertion(await assertion()))),
    );
    expect(claims.client_id).toBe("researcher");
  });

  it("an assertion addressed to the token endpoint, with client_id in the form", async () => {
    const jwt = await assertion({ aud: `${broker.issuer}/token` });
    await expectIssued(
      broker,
      send(await docsForm({ ...viaAssertion(jwt), client_id: "researcher" })),
    );
  });

  it("an assertion that lives exactly 10 minutes", async () => {
    await expectIssued(
      broker,
      send(await docsForm(viaAssertion(await assertion({ exp: broker.clock.now() + 600 })))),
    );
  });

  it("a jti used twice is refused the second time (single-use)", async () => {
    const jwt = await assertion();
    await expectIssued(broker, send(await docsForm(viaAssertion(jwt))));
    await expectUnauthenticated(send(await docsForm(viaAssertion(jwt))), false);
    // A fresh signature over the same jti is the same assertion.
    const jti = randomUUID();
    await expectIssued(broker, send(await docsForm(viaAssertion(await assertion({ jti })))));
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ jti, iat: broker.clock.now() - 1 })))),
      false,
    );
  });

  it("a refused assertion does not use up its jti", async () => {
    const jti = randomUUID();
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ jti, aud: "https://evil.example" })))),
      false,
    );
    await expectIssued(broker, send(await docsForm(viaAssertion(await assertion({ jti })))));
  });

  it.each<[string, () => string]>([
    ["another site", () => "https://evil.example"],
    ["the issuer with a trailing slash", () => `${broker.issuer}/`],
    ["another path of the issuer", () => `${broker.issuer}/other`],
    ["the client's own id", () => "researcher"],
  ])("the wrong aud: %s", async (_, aud) => {
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ aud: aud() })))),
      false,
    );
  });

  it("expired, or not yet valid", async () => {
    const now = broker.clock.now();
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ iat: now - 600, exp: now - 60 })))),
      false,
    );
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ nbf: now + 300, exp: now + 500 })))),
      false,
    );
    // Valid when made, expired by the time it is used.
    const jwt = await assertion({ exp: now + 30 });
    broker.clock.advance(30 + 31);
    await expectUnauthenticated(send(await docsForm(viaAssertion(jwt))), false);
  });

  it.each([601, 3600, 10 * 365 * 86400])(
    "an exp too far ahead (more than 10 minutes): now + %ss",
    async (ahead) => {
      const exp = broker.clock.now() + ahead;
      await expectUnauthenticated(
        send(await docsForm(viaAssertion(await assertion({ exp })))),
        false,
      );
    },
  );

  it("signed by another key under the researcher's kid", async () => {
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({}, otherKey.privateKey)))),
      false,
    );
  });

  it("alg none, or HS256 keyed with the researcher's public key", async () => {
    const now = broker.clock.now();
    const claims = {
      iss: "researcher",
      sub: "researcher",
      aud: broker.issuer,
      iat: now,
      exp: now + 60,
      jti: randomUUID(),
    };
    await expectUnauthenticated(send(await docsForm(viaAssertion(unsignedJwt(claims)))), false);
    const pem = await exportSPKI(
      (await importJWK(broker.researcherKey.publicJwk, "EdDSA")) as CryptoKey,
    );
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "researcher-1" })
      .sign(new TextEncoder().encode(pem));
    await expectUnauthenticated(send(await docsForm(viaAssertion(hs))), false);
  });

  it("iss and sub that disagree, or name another client", async () => {
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ sub: "orchestrator" })))),
      false,
    );
    await expectUnauthenticated(
      send(
        await docsForm(viaAssertion(await assertion({ iss: "orchestrator", sub: "orchestrator" }))),
      ),
      false,
    );
    // The form's client_id names someone else than the assertion.
    await expectUnauthenticated(
      send(await docsForm({ ...viaAssertion(await assertion()), client_id: "orchestrator" })),
      false,
    );
  });

  it("no jti, no exp", async () => {
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ jti: undefined })))),
      false,
    );
    await expectUnauthenticated(
      send(await docsForm(viaAssertion(await assertion({ exp: undefined })))),
      false,
    );
  });

  it("an assertion that is not a JWT, or of the wrong assertion type", async () => {
    await expectUnauthenticated(send(await docsForm(viaAssertion("not-a-jwt"))), false);
    const jwt = await assertion();
    await expectRefused(
      broker,
      send(
        await docsForm({
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
          client_assertion: jwt,
        }),
      ),
      400,
      "invalid_request",
    );
    await expectRefused(
      broker,
      send(await docsForm({ client_assertion: jwt })),
      400,
      "invalid_request",
    );
  });
});

describe("the other client-authenticated endpoints refuse alike", () => {
  it.each(["/introspect", "/revoke"])(
    "%s with a wrong secret: 401 and a Basic challenge",
    async (path) => {
      const wrong = await expectRefused(
        broker,
        postForm(broker, path, { token: "x" }, { id: "orchestrator", secret: "nope" }),
        401,
        "invalid_client",
      );
      expect(wrong.res.headers.get("www-authenticate")).toMatch(/^Basic /);
    },
  );

  it.each(["/introspect", "/revoke"])("%s with no client authentication: 401", async (path) => {
    await expectRefused(broker, postForm(broker, path, { token: "x" }), 401, "invalid_client");
  });
});

describe("audit (design §4 rule 9)", () => {
  it("client.auth_failed events name the client and the rule, never a secret or assertion", async () => {
    const failures = broker.events.filter((e) => e.type === "client.auth_failed");
    expect(failures.length).toBeGreaterThan(10);
    // Every event carries the policy version it was decided under (issue 9), as `serve` records.
    const policy = broker.policy.version;
    expect(failures).toContainEqual({
      policy,
      type: "client.auth_failed",
      rule: "client.secret",
      client_id: "orchestrator",
    });
    expect(failures).toContainEqual(expect.objectContaining({ rule: "client.assertion_replay" }));
    for (const event of failures) {
      expect(Object.keys(event).sort()).toEqual(expect.arrayContaining(["rule", "type"]));
      const allowed = ["type", "rule", "client_id", "policy"];
      expect(Object.keys(event).every((k) => allowed.includes(k))).toBe(true);
    }
    const log = JSON.stringify(broker.events);
    for (const secret of [...sensitive, "wrong-secret", "anything", "guess", "nope"]) {
      expect(log.includes(secret), `audit log leaks ${secret.slice(0, 12)}…`).toBe(false);
    }
  });
});
