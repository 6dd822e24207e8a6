/**
 * Adversarial suite: bad subject tokens (design §8, issue 2 "done when"). Each one must be
 * refused with 400 invalid_request (RFC 8693 §2.2.2), never yield a token, never a 5xx.
 *
 * Every group starts with a control: the same request with an honest token succeeds, so a
 * refusal below is caused by the attack and not by a broken baseline.
 */

import { randomUUID } from "node:crypto";
import {
  CompactSign,
  type CryptoKey,
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../src/tokens/mint.js";
import {
  type CountingServer,
  exchange,
  expectIssued,
  expectRefused,
  type Form,
  startCountingServer,
  tamperHeader,
  tamperPayload,
  unsignedJwt,
} from "../helpers/assertions.js";
import {
  type KeyPair,
  keyPair,
  startTestBroker,
  type TestBroker,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";

let broker: TestBroker;
/** An RSA key the idp publishes (so an RS256 token would verify), though it allows ES256 only. */
let idpRsa: KeyPair;
/** Keys the attacker holds. */
let attackerEs: KeyPair;
let attackerEd: KeyPair;
let attackerRsa: KeyPair;
/** Where `jku` / `x5u` headers point: counts whether anyone fetched it. */
let attackerSite: CountingServer;

beforeAll(async () => {
  idpRsa = await rsaKeyPair("idp-rsa");
  attackerEs = await keyPair("ES256", "idp-1");
  attackerEd = await keyPair("EdDSA", "attacker-ed");
  attackerRsa = await rsaKeyPair("idp-1");
  attackerSite = await startCountingServer();
  attackerSite.route("/jwks.json", { keys: [attackerEs.publicJwk, attackerEd.publicJwk] });
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.issuers[0].jwks.keys.push(idpRsa.publicJwk);
    },
  });
});
afterAll(async () => {
  await broker.close();
  await attackerSite.close();
});

async function rsaKeyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), alg: "RS256", kid } };
}

/** An access-token exchange for the docs API, by the orchestrator unless said otherwise. */
const docsRequest = (subject: string, extra: Form = {}): Form => ({
  subject_token: subject,
  audience: "docs",
  scope: "docs.read",
  ...extra,
});

/** Exchanges `subject` and expects 400 invalid_request with nothing issued. */
async function expectBadToken(subject: string, extra: Form = {}, agent = "orchestrator") {
  await expectRefused(
    broker,
    exchange(broker, docsRequest(subject, extra), agent),
    400,
    "invalid_request",
  );
}

const devIssuer = () => `${broker.issuer}/dev`;
const now = () => broker.clock.now();

/** Claims of an honest idp token for alice, bounded to docs.read. */
const idpClaims = (extra: Record<string, unknown> = {}) => ({
  iss: "https://idp.test",
  aud: broker.issuer,
  sub: USER,
  scope: "docs.read",
  iat: now(),
  exp: now() + 600,
  ...extra,
});

/** Claims of an honest development-issuer token for alice. */
const devClaims = (extra: Record<string, unknown> = {}) => ({
  iss: devIssuer(),
  aud: broker.issuer,
  sub: USER,
  iat: now(),
  exp: now() + 600,
  jti: `forged-${randomUUID()}`,
  ...extra,
});

/** The broker's current public key as its JWKS publishes it. */
async function brokerJwk(): Promise<JWK> {
  const res = await fetch(`${broker.url}/.well-known/jwks.json`);
  const { keys } = (await res.json()) as { keys: JWK[] };
  expect(keys.length).toBeGreaterThan(0);
  return keys[0] as JWK;
}

/** A delegation token orchestrator → flight-booker, for the tamper and typ tests. */
async function delegationToken(scope = "flights.search", ttl = 600): Promise<string> {
  const user = await broker.devToken(USER);
  const { token } = await expectIssued(
    broker,
    exchange(
      broker,
      {
        subject_token: user,
        requested_token_type: TOKEN_TYPE.jwt,
        audience: "flight-booker",
        scope,
        ttl_seconds: String(ttl),
      },
      "orchestrator",
    ),
  );
  return token;
}

describe("controls: honest tokens are accepted", () => {
  it("a development token", async () => {
    await expectIssued(
      broker,
      exchange(broker, docsRequest(await broker.devToken(USER)), "orchestrator"),
    );
  });
  it("an idp token (ES256, kid idp-1)", async () => {
    await expectIssued(
      broker,
      exchange(broker, docsRequest(await broker.idpToken(idpClaims())), "orchestrator"),
    );
  });
  it("a dev-issuer token signed with Baton's key and typ JWT", async () => {
    const token = await signToken(broker.deps.keys, "JWT", devClaims());
    await expectIssued(broker, exchange(broker, docsRequest(token), "orchestrator"));
  });
});

describe("alg: none (RFC 8725 §2.1)", () => {
  it("an unsigned token claiming the development issuer", async () => {
    await expectBadToken(unsignedJwt(devClaims(), { alg: "none", typ: "JWT" }));
  });
  it("an unsigned token claiming the trusted idp", async () => {
    await expectBadToken(unsignedJwt(idpClaims()));
  });
  it("an unsigned delegation token claiming Baton itself", async () => {
    const forged = unsignedJwt(
      {
        iss: broker.issuer,
        aud: broker.issuer,
        sub: USER,
        scope: "docs.read",
        act: { sub: "flight-booker" },
        may_act: { sub: "orchestrator" },
        iat: now(),
        exp: now() + 600,
        jti: "forged-delegation",
      },
      { alg: "none", typ: "delegation+jwt" },
    );
    await expectBadToken(forged);
  });
  it("an honest token whose header is switched to none, signature stripped", async () => {
    const honest = await broker.idpToken(idpClaims());
    const stripped = tamperHeader(honest, { alg: "none" }).replace(/[^.]+$/, "");
    await expectBadToken(stripped);
  });
  it.each(["NONE", "None", "nOnE"])("alg spelt %s", async (alg) => {
    await expectBadToken(unsignedJwt(idpClaims(), { alg }));
  });
});

describe("algorithm confusion", () => {
  /** The usual HMAC secrets an attacker derives from a public key, by name. */
  const SECRET_KINDS = ["the JWK's JSON", "the SPKI PEM", "the PEM with a newline", "the raw x"];
  async function publicKeyAsSecret(jwk: JWK, alg: string, kind: string): Promise<Uint8Array> {
    const key = await importJWK(jwk, alg);
    const pem = await exportSPKI(key as CryptoKey);
    const secrets: Record<string, Uint8Array> = {
      "the JWK's JSON": new TextEncoder().encode(JSON.stringify(jwk)),
      "the SPKI PEM": new TextEncoder().encode(pem),
      "the PEM with a newline": new TextEncoder().encode(`${pem}\n`),
      "the raw x": new Uint8Array(Buffer.from(jwk.x as string, "base64url")),
    };
    const secret = secrets[kind] as Uint8Array;
    // Each kind is a real secret for these keys (EdDSA and ES256 keys both have x).
    expect(secret.length).toBeGreaterThan(0);
    return secret;
  }

  it.each(SECRET_KINDS)(
    "HS256 signed with the broker's public key bytes (%s), as a dev-issuer token",
    async (kind) => {
      const jwk = await brokerJwk();
      const secret = await publicKeyAsSecret(jwk, jwk.alg as string, kind);
      const forged = await new SignJWT(devClaims())
        .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: jwk.kid as string })
        .sign(secret);
      await expectBadToken(forged);
    },
  );

  it.each(SECRET_KINDS)(
    "HS256 signed with the broker's public key bytes (%s), as a delegation token",
    async (kind) => {
      const jwk = await brokerJwk();
      const secret = await publicKeyAsSecret(jwk, jwk.alg as string, kind);
      const forged = await new SignJWT({
        iss: broker.issuer,
        aud: broker.issuer,
        sub: USER,
        scope: "docs.read",
        act: { sub: "flight-booker" },
        may_act: { sub: "orchestrator" },
        iat: now(),
        exp: now() + 600,
        jti: "forged-hs256",
      })
        .setProtectedHeader({ alg: "HS256", typ: "delegation+jwt", kid: jwk.kid as string })
        .sign(secret);
      await expectBadToken(forged);
    },
  );

  it.each(SECRET_KINDS.flatMap((kind) => ["HS256", "HS384", "HS512"].map((alg) => [alg, kind])))(
    "%s signed with the idp's public key bytes (%s) as the HMAC secret",
    async (alg, kind) => {
      const jwk = broker.idp.key.publicJwk;
      const secret = await publicKeyAsSecret(jwk, "ES256", kind as string);
      const forged = await new SignJWT(idpClaims())
        .setProtectedHeader({ alg: alg as string, kid: "idp-1" })
        .sign(secret);
      await expectBadToken(forged);
    },
  );

  it("RS256 to an ES256-only issuer, even with a published RSA key that verifies it", async () => {
    const token = await new SignJWT(idpClaims())
      .setProtectedHeader({ alg: "RS256", kid: "idp-rsa" })
      .sign(idpRsa.privateKey);
    // The key would verify it: only the issuer's algorithm allow-list stands in the way.
    const jwks = createLocalJWKSet({ keys: [idpRsa.publicJwk] });
    await expect(
      jwtVerify(token, jwks, { currentDate: new Date(now() * 1000) }),
    ).resolves.toBeTruthy();
    await expectBadToken(token);
  });

  it("RS256 signed by the attacker under the idp's kid", async () => {
    const token = await new SignJWT(idpClaims())
      .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
      .sign(attackerRsa.privateKey);
    await expectBadToken(token);
  });

  it("ES256 naming the broker's Ed25519 kid (a key of the wrong type)", async () => {
    const jwk = await brokerJwk();
    const token = await new SignJWT(devClaims())
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: jwk.kid as string })
      .sign(attackerEs.privateKey);
    await expectBadToken(token);
  });
});

describe("a key in the token header", () => {
  it("an embedded jwk with the attacker's key, under the idp's kid", async () => {
    const token = await new SignJWT(idpClaims())
      .setProtectedHeader({ alg: "ES256", kid: "idp-1", jwk: attackerEs.publicJwk })
      .sign(attackerEs.privateKey);
    await expectBadToken(token);
  });

  it("an embedded jwk with the attacker's key and no kid", async () => {
    const { kid: _kid, ...jwk } = attackerEs.publicJwk;
    const token = await new SignJWT(idpClaims())
      .setProtectedHeader({ alg: "ES256", jwk })
      .sign(attackerEs.privateKey);
    await expectBadToken(token);
  });

  it.each([
    ["under Baton's kid", true],
    ["with no kid", false],
  ])("an embedded jwk claiming the development issuer, %s", async (_, withKid) => {
    const { kid } = await brokerJwk();
    const header = withKid ? { kid } : {};
    const token = await new SignJWT(devClaims())
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", jwk: attackerEd.publicJwk, ...header })
      .sign(attackerEd.privateKey);
    await expectBadToken(token);
  });

  it.each([
    ["jku", (jku: string) => ({ jku })],
    ["x5u", (jku: string) => ({ x5u: jku })],
    ["jku with the attacker's kid", (jku: string) => ({ jku, kid: "attacker-ed" })],
  ])("%s pointing at the attacker's key set is never fetched", async (_, headerOf) => {
    const header = headerOf(`${attackerSite.url}/jwks.json`);
    const idp = await new SignJWT(idpClaims())
      .setProtectedHeader({ alg: "ES256", kid: "idp-1", ...header })
      .sign(attackerEs.privateKey);
    await expectBadToken(idp);
    const dev = await new SignJWT(devClaims())
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: "attacker-ed", ...header })
      .sign(attackerEd.privateKey);
    await expectBadToken(dev);
    expect(attackerSite.hits("/jwks.json")).toBe(0);
  });
});

describe("wrong typ", () => {
  it.each([TOKEN_TYPE.jwt, TOKEN_TYPE.accessToken, TOKEN_TYPE.idToken])(
    "an at+jwt access token Baton issued, presented back as a subject token of type %s",
    async (type) => {
      const user = await broker.devToken(USER);
      const { token } = await expectIssued(
        broker,
        exchange(broker, docsRequest(user), "orchestrator"),
      );
      await expectBadToken(token, { subject_token_type: type });
    },
  );

  it.each([TOKEN_TYPE.accessToken, TOKEN_TYPE.idToken, TOKEN_TYPE.refreshToken])(
    "a delegation token presented as %s",
    async (type) => {
      const delegation = await delegationToken();
      await expectBadToken(
        delegation,
        { subject_token_type: type, audience: "flights", scope: "flights.search" },
        "flight-booker",
      );
    },
  );

  it.each([
    TOKEN_TYPE.refreshToken,
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:oauth:token-type:saml1",
    "urn:example:unknown",
    "jwt",
  ])("a dev token presented with subject_token_type %s, which it is not", async (type) => {
    const user = await broker.devToken(USER);
    await expectBadToken(user, { subject_token_type: type });
  });

  it.each(["at+jwt", "delegation+jwt", "application/at+jwt", "JOSE"])(
    "a dev-issuer token signed with Baton's own key but typ %s",
    async (typ) => {
      await expectBadToken(await signToken(broker.deps.keys, typ, devClaims()));
    },
  );

  it.each(["JWT", "at+jwt"])(
    "a delegation-shaped token signed with Baton's own key but typ %s",
    async (typ) => {
      const claims = {
        iss: broker.issuer,
        aud: broker.issuer,
        sub: USER,
        scope: "docs.read",
        act: { sub: "flight-booker" },
        may_act: { sub: "orchestrator" },
        iat: now(),
        exp: now() + 600,
        jti: "typ-forgery",
      };
      await expectBadToken(await signToken(broker.deps.keys, typ, claims));
    },
  );
});

describe("wrong iss", () => {
  it("an unknown issuer", async () => {
    const token = await new SignJWT(idpClaims({ iss: "https://evil.test" }))
      .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
      .sign(attackerEs.privateKey);
    await expectBadToken(token);
  });

  it.each(["https://idp.test/", "https://IDP.test", "http://idp.test", " https://idp.test"])(
    "the idp's own key, but iss %j: not exactly the trusted one",
    async (iss) => {
      await expectBadToken(await broker.idpToken(idpClaims({ iss })));
    },
  );

  it.each([
    ["Baton", () => broker.issuer],
    ["its development issuer", () => devIssuer()],
  ])("the idp's key claiming to be %s", async (_, iss) => {
    await expectBadToken(await broker.idpToken(idpClaims({ iss: iss() })));
  });

  it.each<[string, unknown]>([
    ["no iss", undefined],
    ["a number", 42],
    ["a list", ["https://idp.test"]],
    ["an object", { url: "https://idp.test" }],
  ])("iss that is %s, not a string", async (_, iss) => {
    await expectBadToken(await broker.idpToken(idpClaims({ iss })));
  });
});

describe("wrong aud", () => {
  it.each<[string, () => unknown]>([
    ["another host", () => "https://other.example.com"],
    ["the broker with a trailing slash", () => `${broker.issuer}/`],
    ["an empty list", () => []],
    ["a list of another host", () => ["https://other.example.com"]],
  ])("an idp token for another audience (%s)", async (_, aud) => {
    await expectBadToken(await broker.idpToken(idpClaims({ aud: aud() })));
  });

  it("an idp token with no aud", async () => {
    await expectBadToken(await broker.idpToken(idpClaims({ aud: undefined })));
  });

  it("a dev-issuer token (Baton's key) addressed to an API", async () => {
    await expectBadToken(
      await signToken(broker.deps.keys, "JWT", devClaims({ aud: "https://docs.example.com/api" })),
    );
  });
});

describe("expired and not yet valid", () => {
  it("a dev token past its exp", async () => {
    const user = await broker.devToken(USER, { ttl: 60 });
    broker.clock.advance(60);
    await expectBadToken(user);
  });

  it("an idp token past its exp beyond the clock tolerance", async () => {
    const token = await broker.idpToken(idpClaims({ exp: now() + 60 }));
    broker.clock.advance(60 + 31);
    await expectBadToken(token);
  });

  it("an idp token past its exp but within the clock tolerance still yields nothing", async () => {
    const token = await broker.idpToken(idpClaims({ exp: now() + 60 }));
    broker.clock.advance(60 + 5);
    await expectBadToken(token);
  });

  it("a delegation token past its exp", async () => {
    const delegation = await delegationToken("flights.search", 60);
    broker.clock.advance(60);
    await expectBadToken(
      delegation,
      { audience: "flights", scope: "flights.search" },
      "flight-booker",
    );
  });

  it("an idp token whose nbf is in the future beyond the tolerance", async () => {
    await expectBadToken(await broker.idpToken(idpClaims({ nbf: now() + 120 })));
    // …and still refused as the clock approaches, until nbf - tolerance is reached.
    const token = await broker.idpToken(idpClaims({ nbf: now() + 300, exp: now() + 900 }));
    broker.clock.advance(200);
    await expectBadToken(token);
    broker.clock.advance(100);
    await expectIssued(broker, exchange(broker, docsRequest(token), "orchestrator"));
  });

  it("a dev-issuer token (Baton's key, no tolerance) whose nbf is in the future", async () => {
    await expectBadToken(await signToken(broker.deps.keys, "JWT", devClaims({ nbf: now() + 5 })));
  });

  it("a token with no exp", async () => {
    await expectBadToken(await broker.idpToken(idpClaims({ exp: undefined })));
    await expectBadToken(await signToken(broker.deps.keys, "JWT", devClaims({ exp: undefined })));
  });
});

describe("claims of the wrong type", () => {
  /** Signs any payload bytes with the idp's real key: SignJWT would refuse these claims. */
  const idpSigned = (payload: Record<string, unknown>) =>
    new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
      .sign(broker.idp.key.privateKey);

  it("a control: the same signing path with honest claims is accepted", async () => {
    await expectIssued(
      broker,
      exchange(broker, docsRequest(await idpSigned(idpClaims())), "orchestrator"),
    );
  });

  it.each<[string, () => Record<string, unknown>]>([
    ["exp as a string", () => ({ exp: String(now() + 600) })],
    ["exp null", () => ({ exp: null })],
    ["exp in a list", () => ({ exp: [now() + 600] })],
    ["nbf as words", () => ({ nbf: "yesterday" })],
    ["no sub", () => ({ sub: undefined })],
    ["an empty sub", () => ({ sub: "" })],
    ["sub as an object", () => ({ sub: { id: USER } })],
  ])("%s: not what RFC 7519 says it is", async (_, patch) => {
    await expectBadToken(await idpSigned(idpClaims(patch())));
  });

  it.each(["[]", "null", "42", '"text"', "{"])(
    "a payload that is not a JSON object: %s",
    async (payload) => {
      const token = await new CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
        .sign(broker.idp.key.privateKey);
      await expectBadToken(token);
    },
  );
});

describe("the right issuer name, the wrong key", () => {
  it("an idp token signed by the attacker under kid idp-1", async () => {
    const token = await new SignJWT(idpClaims())
      .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
      .sign(attackerEs.privateKey);
    await expectBadToken(token);
  });

  it("a dev token signed by the attacker under Baton's kid", async () => {
    const { kid } = await brokerJwk();
    const token = await new SignJWT(devClaims())
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: kid as string })
      .sign(attackerEd.privateKey);
    await expectBadToken(token);
  });

  it("a delegation token signed by the attacker under Baton's kid", async () => {
    const { kid } = await brokerJwk();
    const honest = decodeJwt(await delegationToken());
    const token = await new SignJWT({ ...honest, scope: "flights.search docs.read" })
      .setProtectedHeader({ alg: "EdDSA", typ: "delegation+jwt", kid: kid as string })
      .sign(attackerEd.privateKey);
    await expectBadToken(token, { audience: "docs", scope: "docs.read" }, "flight-booker");
  });
});

describe("a tampered payload (scope widened after signing)", () => {
  it("a dev token bound to docs.read, widened to docs.write", async () => {
    const user = await broker.devToken(USER, { scopes: ["docs.read"] });
    await expectIssued(broker, exchange(broker, docsRequest(user), "orchestrator"));
    const widened = tamperPayload(user, { scope: "docs.read docs.write" });
    await expectBadToken(widened, { scope: "docs.write" });
  });

  it.each<[string, (exp: number) => Record<string, unknown>]>([
    ["more scope", () => ({ scope: "flights.search docs.read" })],
    ["a longer exp", (exp) => ({ exp: exp + 3600 })],
    ["another holder", () => ({ may_act: { sub: "researcher" } })],
    ["another chain", () => ({ act: { sub: "researcher" } })],
  ])("a delegation token tampered to %s", async (_, patch) => {
    const delegation = await delegationToken("flights.search");
    const claims = decodeJwt(delegation);
    await expectBadToken(
      tamperPayload(delegation, patch(claims.exp as number)),
      { audience: "docs", scope: "docs.read" },
      "flight-booker",
    );
  });

  it("an idp token widened to docs.write", async () => {
    const token = await broker.idpToken(idpClaims());
    await expectBadToken(tamperPayload(token, { scope: "docs.read docs.write" }), {
      scope: "docs.write",
    });
  });
});

describe("crit header with an unknown extension (RFC 7515 §4.1.11)", () => {
  it("from the idp", async () => {
    const token = await new SignJWT(idpClaims())
      .setProtectedHeader({
        alg: "ES256",
        kid: "idp-1",
        crit: ["urn:example:must-understand"],
        "urn:example:must-understand": true,
      })
      .sign(broker.idp.key.privateKey, { crit: { "urn:example:must-understand": true } });
    await expectBadToken(token);
  });

  it("from the development issuer (Baton's own key)", async () => {
    const { kid, alg, key } = broker.deps.keys.signingKey();
    const token = await new SignJWT(devClaims())
      .setProtectedHeader({ alg, typ: "JWT", kid, crit: ["exp-ext"], "exp-ext": 1 })
      .sign(key, { crit: { "exp-ext": true } });
    await expectBadToken(token);
  });

  it.each<[string, unknown]>([
    ["names a registered header", ["alg"]],
    ["is not a list", "exp-ext"],
    ["is an empty list", []],
  ])("a crit header that %s", async (_, crit) => {
    const token = tamperHeader(await broker.idpToken(idpClaims()), { crit });
    await expectBadToken(token);
  });
});
