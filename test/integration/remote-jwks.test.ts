/**
 * Trusted issuers whose keys live at a `jwks_uri` (issue 2, item 4): a real JWKS server on
 * loopback that counts its requests. Keys are fetched once and cached; an unknown `kid`
 * causes at most one refetch per cooldown (jose `cooldownDuration`, 30 s in tokens/verify.ts);
 * the issuer's algorithm allow-list holds even when a published key would verify the token.
 */

import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type CountingServer,
  exchange,
  expectIssued,
  expectRefused,
  startCountingServer,
} from "../helpers/assertions.js";
import { type KeyPair, keyPair, startTestBroker, type TestBroker } from "../helpers/broker.js";

const USER = "alice@example.com";

/** Issuer → the path its JWKS is served at. */
const ISSUERS = {
  "https://remote.test": "/es-only/jwks.json",
  "https://remote-mixed.test": "/mixed/jwks.json",
  "https://remote-rotating.test": "/rotating/jwks.json",
  "https://remote-broken.test": "/broken/jwks.json",
  "https://remote-garbage.test": "/garbage/jwks.json",
} as const;
type Issuer = keyof typeof ISSUERS;

let jwksServer: CountingServer;
let broker: TestBroker;
let es: KeyPair;
let rsa: KeyPair;
let rotated: KeyPair;

beforeAll(async () => {
  es = await keyPair("ES256", "remote-es-1");
  rotated = await keyPair("ES256", "remote-es-2");
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  rsa = {
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), alg: "RS256", kid: "remote-rsa-1" },
  };

  jwksServer = await startCountingServer();
  jwksServer.route(ISSUERS["https://remote.test"], { keys: [es.publicJwk, rsa.publicJwk] });
  jwksServer.route(ISSUERS["https://remote-mixed.test"], { keys: [es.publicJwk, rsa.publicJwk] });
  jwksServer.route(ISSUERS["https://remote-rotating.test"], { keys: [es.publicJwk] });
  jwksServer.route(ISSUERS["https://remote-broken.test"], { error: "down" }, 500);
  jwksServer.route(ISSUERS["https://remote-garbage.test"], { keys: "not-a-list" });

  broker = await startTestBroker({
    editPolicy: (data) => {
      const audience = data.issuers[0].audience as string;
      for (const [issuer, path] of Object.entries(ISSUERS)) {
        data.issuers.push({
          issuer,
          jwks_uri: `${jwksServer.url}${path}`,
          audience,
          algorithms: issuer === "https://remote-mixed.test" ? ["ES256", "RS256"] : ["ES256"],
        });
      }
    },
  });
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  await broker.close();
  await jwksServer.close();
});

/** A subject token from a remote issuer, signed by `key` under its kid (or another). */
function remoteToken(issuer: Issuer, key: KeyPair, header: { alg?: string; kid?: string } = {}) {
  const now = broker.clock.now();
  return new SignJWT({ iss: issuer, aud: broker.issuer, sub: USER, iat: now, exp: now + 600 })
    .setProtectedHeader({
      alg: key.publicJwk.alg as string,
      kid: key.publicJwk.kid as string,
      ...header,
    })
    .sign(key.privateKey);
}

const docsRequest = (subject: string) => ({
  subject_token: subject,
  audience: "docs",
  scope: "docs.read",
});
const fetches = (issuer: Issuer) => jwksServer.hits(ISSUERS[issuer]);

describe("an issuer with jwks_uri", () => {
  it("verifies its tokens with the fetched keys", async () => {
    const { claims } = await expectIssued(
      broker,
      exchange(broker, docsRequest(await remoteToken("https://remote.test", es)), "orchestrator"),
    );
    expect(claims.sub).toBe(USER);
    expect(claims.act).toEqual({ sub: "orchestrator" });
    expect(fetches("https://remote.test")).toBe(1);
  });

  it("fetches the JWKS once for many exchanges (cache)", async () => {
    for (let i = 0; i < 20; i++) {
      await expectIssued(
        broker,
        exchange(broker, docsRequest(await remoteToken("https://remote.test", es)), "orchestrator"),
      );
    }
    expect(fetches("https://remote.test")).toBe(1);
  });

  it("refuses a token signed by a key it does not publish, without a fetch storm", async () => {
    const attacker = await keyPair("ES256", "remote-es-1");
    const before = fetches("https://remote.test");
    for (let i = 0; i < 5; i++) {
      await expectRefused(
        broker,
        exchange(
          broker,
          docsRequest(await remoteToken("https://remote.test", attacker)),
          "orchestrator",
        ),
        400,
        "invalid_request",
      );
    }
    // A known kid with a bad signature is no reason to refetch at all.
    expect(fetches("https://remote.test")).toBe(before);
  });
});

describe("an unknown kid (refetch cooldown)", () => {
  it("refetches at most once per cooldown, and finds a key rotated in at the issuer", async () => {
    const issuer = "https://remote-rotating.test";
    await expectIssued(
      broker,
      exchange(broker, docsRequest(await remoteToken(issuer, es)), "orchestrator"),
    );
    expect(fetches(issuer)).toBe(1);

    // The issuer rotates in a new key. Right after the first fetch jose is cooling down:
    // tokens under the new kid are refused without any refetch, however many arrive.
    jwksServer.route(ISSUERS[issuer], { keys: [es.publicJwk, rotated.publicJwk] });
    for (let i = 0; i < 5; i++) {
      await expectRefused(
        broker,
        exchange(broker, docsRequest(await remoteToken(issuer, rotated)), "orchestrator"),
        400,
        "invalid_request",
      );
    }
    expect(fetches(issuer)).toBe(1);

    // 31 s later (jose reads Date.now(); only Date is faked), one unknown kid refetches once.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    vi.setSystemTime(Date.now() + 31_000);
    await expectIssued(
      broker,
      exchange(broker, docsRequest(await remoteToken(issuer, rotated)), "orchestrator"),
    );
    expect(fetches(issuer)).toBe(2);

    // …and the cooldown starts again: a burst of made-up kids costs no fetch at all.
    for (let i = 0; i < 10; i++) {
      await expectRefused(
        broker,
        exchange(
          broker,
          docsRequest(await remoteToken(issuer, rotated, { kid: `made-up-${i}` })),
          "orchestrator",
        ),
        400,
        "invalid_request",
      );
    }
    expect(fetches(issuer)).toBe(2);

    // After another cooldown, a burst of unknown kids costs exactly one fetch.
    vi.setSystemTime(Date.now() + 31_000);
    for (let i = 0; i < 10; i++) {
      await expectRefused(
        broker,
        exchange(
          broker,
          docsRequest(await remoteToken(issuer, rotated, { kid: `still-made-up-${i}` })),
          "orchestrator",
        ),
        400,
        "invalid_request",
      );
    }
    expect(fetches(issuer)).toBe(3);
  });
});

describe("the issuer's algorithm allow-list", () => {
  it("refuses RS256 from an ES256-only issuer even though its published RSA key verifies it", async () => {
    const token = await remoteToken("https://remote.test", rsa);
    // The published key does verify it: only the allow-list stands in the way.
    const jwks = createLocalJWKSet({ keys: [es.publicJwk, rsa.publicJwk] });
    await expect(
      jwtVerify(token, jwks, { currentDate: new Date(broker.clock.now() * 1000) }),
    ).resolves.toBeTruthy();
    await expectRefused(
      broker,
      exchange(broker, docsRequest(token), "orchestrator"),
      400,
      "invalid_request",
    );
  });

  it("accepts the same kind of token from an issuer that allows RS256 (control)", async () => {
    await expectIssued(
      broker,
      exchange(
        broker,
        docsRequest(await remoteToken("https://remote-mixed.test", rsa)),
        "orchestrator",
      ),
    );
    await expectIssued(
      broker,
      exchange(
        broker,
        docsRequest(await remoteToken("https://remote-mixed.test", es)),
        "orchestrator",
      ),
    );
    expect(fetches("https://remote-mixed.test")).toBe(1);
  });

  it("refuses an ES256 token that names the RSA key (alg/key mismatch)", async () => {
    const token = await remoteToken("https://remote-mixed.test", es, { kid: "remote-rsa-1" });
    await expectRefused(
      broker,
      exchange(broker, docsRequest(token), "orchestrator"),
      400,
      "invalid_request",
    );
  });
});

describe("a JWKS that cannot be had", () => {
  it("an endpoint answering 500: refused as a bad token, never a 5xx", async () => {
    await expectRefused(
      broker,
      exchange(
        broker,
        docsRequest(await remoteToken("https://remote-broken.test", es)),
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
    expect(fetches("https://remote-broken.test")).toBeGreaterThanOrEqual(1);
  });

  it("after a failed fetch, more tokens cause no more fetches until the cooldown has passed", async () => {
    const before = fetches("https://remote-broken.test");
    for (let i = 0; i < 5; i++) {
      await expectRefused(
        broker,
        exchange(
          broker,
          docsRequest(await remoteToken("https://remote-broken.test", es)),
          "orchestrator",
        ),
        400,
        "invalid_request",
      );
    }
    // The previous test's failure is within the cooldown: not one more request to the issuer.
    expect(fetches("https://remote-broken.test")).toBe(before);
  });

  it("an endpoint serving something that is not a JWK Set", async () => {
    await expectRefused(
      broker,
      exchange(
        broker,
        docsRequest(await remoteToken("https://remote-garbage.test", es)),
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });
});

describe("the policy schema", () => {
  it("refuses a plain-http jwks_uri off this machine", async () => {
    await expect(
      startTestBroker({
        editPolicy: (data) => {
          data.issuers.push({
            issuer: "https://plain.test",
            jwks_uri: "http://idp.example.com/jwks.json",
            audience: "http://127.0.0.1",
            algorithms: ["ES256"],
          });
        },
      }),
    ).rejects.toThrow(/https/);
  });
});
