/**
 * Adversarial suite for the JWT bearer grant with an ID-JAG (issue 18; RFC 7521 §5.2; RFC 7523
 * §3; draft-ietf-oauth-identity-assertion-authz-grant §4.4.1, §6, §8.3). Each refusal asserts
 * the exact status and code, the one fixed description of `invalid_grant`, the rule in the
 * audit log, and that nothing was issued. A control first: an honest ID-JAG is redeemed.
 */

import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../src/tokens/mint.js";
import { JWT_BEARER_GRANT } from "../../src/tokens/token-types.js";
import {
  exchange,
  expectIssued,
  expectRefused,
  type Form,
  postForm,
} from "../helpers/assertions.js";
import { type KeyPair, keyPair, startTestBroker, type TestBroker } from "../helpers/broker.js";

const USER = "alice@example.com";
const DOCS = "https://docs.example.com/api";
const DESCRIPTION = "The assertion is not acceptable";
const SKEW = 30;

/** The test IdP's ID-JAGs are accepted (policy `issuers[].id_jag`). */
const markIdJag = (data: Record<string, any>) => {
  data.issuers[0].id_jag = true;
};

let broker: TestBroker;
/** A second trusted issuer, not marked `id_jag`. */
let idp2: KeyPair;
/** A key nobody trusts. */
let stranger: KeyPair;

beforeAll(async () => {
  idp2 = await keyPair("ES256", "idp2-1");
  stranger = await keyPair("ES256", "idp-1");
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.issuers[0].id_jag = true;
      data.issuers.push({
        issuer: "https://idp2.test",
        jwks: { keys: [idp2.publicJwk] },
        audience: data.issuers[0].audience,
        algorithms: ["ES256"],
      });
    },
  });
});
afterAll(() => broker.close());

const claimsOf = (claims: Record<string, unknown>) => ({
  sub: USER,
  client_id: "orchestrator",
  jti: randomUUID(),
  resource: DOCS,
  scope: "docs.read",
  exp: broker.clock.now() + 300,
  ...claims,
});

/** An ID-JAG of the trusted test IdP; `header` may change its `typ`. */
const idJag = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  broker.idpToken(claimsOf(claims), { typ: "oauth-id-jag+jwt", ...header });

/** An ID-JAG-shaped JWT signed by another key, as another issuer. */
const signedBy = (key: KeyPair, iss: string, claims: Record<string, unknown> = {}) =>
  new SignJWT({ iss, aud: broker.issuer, iat: broker.clock.now(), ...claimsOf(claims) })
    .setProtectedHeader({ alg: "ES256", kid: key.publicJwk.kid as string, typ: "oauth-id-jag+jwt" })
    .sign(key.privateKey);

const redeem = (assertion: string, extra: Form = {}, agent = "orchestrator") =>
  postForm(broker, "/token", { grant_type: JWT_BEARER_GRANT, assertion, ...extra }, agent);

/** 400 invalid_grant, the fixed description, no token, and the rule in the audit log. */
async function refusedGrant(response: Promise<Response>, rule: string): Promise<void> {
  const { body } = await expectRefused(broker, response, 400, "invalid_grant");
  expect(body.error_description).toBe(DESCRIPTION);
  expect(broker.events.findLast((e) => e.type === "exchange.denied")).toMatchObject({ rule });
}

it("control: an honest ID-JAG is redeemed", async () => {
  await expectIssued(broker, redeem(await idJag()));
});

describe("draft §4.4.1: the ID-JAG itself", () => {
  it.each([
    ["at+jwt", "at+jwt"],
    ["JWT", "JWT"],
  ])("RFC 8725 §3.11: typ %s is not an ID-JAG", async (_, typ) => {
    await refusedGrant(redeem(await idJag({}, { typ })), "assertion.typ");
  });

  it("draft §4.4.1: aud is another authorization server", async () => {
    await refusedGrant(
      redeem(await idJag({ aud: "https://as.elsewhere.example" })),
      "assertion.audience",
    );
  });

  it("draft §4.4.1: an aud array must hold exactly this issuer", async () => {
    const aud = [broker.issuer, "https://as.elsewhere.example"];
    await refusedGrant(redeem(await idJag({ aud })), "assertion.audience");
  });

  it("draft §4.4.1: client_id is not the authenticated agent", async () => {
    const assertion = await idJag({ client_id: "flight-booker" });
    await refusedGrant(redeem(assertion), "assertion.client");
  });

  it("rfc7523 §3 (7): a jti is redeemed once", async () => {
    const assertion = await idJag();
    await expectIssued(broker, redeem(assertion));
    await refusedGrant(redeem(assertion), "assertion.replay");
  });

  it("rfc7523 §3 (7): of concurrent redemptions of one ID-JAG, one issues", async () => {
    const assertion = await idJag();
    const results = await Promise.all([1, 2, 3, 4].map(() => redeem(assertion)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
  });

  it("rfc7519 §4.1.4: expired beyond the clock skew", async () => {
    const assertion = await idJag({ exp: broker.clock.now() - SKEW - 1 });
    await refusedGrant(redeem(assertion), "assertion.claims");
  });

  it("rule 2: expired within the skew leaves nothing to give", async () => {
    await refusedGrant(redeem(await idJag({ exp: broker.clock.now() - 1 })), "assertion.claims");
  });

  it("the issuer's max_token_lifetime holds", async () => {
    const assertion = await idJag({ exp: broker.clock.now() + 25 * 3600 });
    await refusedGrant(redeem(assertion), "assertion.lifetime");
  });

  it("a trusted issuer not marked id_jag", async () => {
    await refusedGrant(
      redeem(await signedBy(idp2, "https://idp2.test")),
      "assertion.not_id_jag_issuer",
    );
  });

  it("an untrusted issuer", async () => {
    await refusedGrant(
      redeem(await signedBy(stranger, "https://evil.test")),
      "assertion.untrusted_issuer",
    );
  });

  it("a forged signature in the trusted issuer's name", async () => {
    await refusedGrant(redeem(await signedBy(stranger, "https://idp.test")), "assertion.claims");
  });

  it("draft §8.3: an ID-JAG this broker issued itself is never redeemed here", async () => {
    const own = await signToken(broker.deps.keys, "oauth-id-jag+jwt", {
      iss: broker.issuer,
      aud: broker.issuer,
      iat: broker.clock.now(),
      ...claimsOf({}),
    });
    await refusedGrant(redeem(own), "assertion.own");
  });

  it("draft §6.3: a tenant-scoped sub", async () => {
    await refusedGrant(redeem(await idJag({ tenant: "acme" })), "assertion.tenant");
  });

  it("draft §8.6.1: a key-bound ID-JAG (cnf) whose proof Baton cannot check", async () => {
    await refusedGrant(redeem(await idJag({ cnf: { jkt: "abc" } })), "assertion.bound");
  });

  it("RFC 9700 §4.15: a subject that is an agent's id", async () => {
    await refusedGrant(redeem(await idJag({ sub: "researcher" })), "assertion.claims");
  });

  it("rule 4: the agent already in the ID-JAG's act", async () => {
    await refusedGrant(redeem(await idJag({ act: { sub: "orchestrator" } })), "assertion.claims");
  });
});

describe("EMA §7.2.1: the one target", () => {
  it.each([
    ["an unknown resource", "https://unknown.example.com"],
    ["none", undefined],
    ["two resources", [DOCS, "https://calendar.example.com"]],
  ])("resource: %s", async (_, resource) => {
    await refusedGrant(redeem(await idJag({ resource })), "assertion.resource");
  });

  it("rule 1: a scope beyond the ID-JAG is invalid_scope", async () => {
    await expectRefused(
      broker,
      redeem(await idJag(), { scope: "docs.write" }),
      400,
      "invalid_scope",
    );
  });

  it("rule 1: a scope of another API than the resource is invalid_scope", async () => {
    const assertion = await idJag({ scope: "docs.read calendar.read" });
    await expectRefused(
      broker,
      redeem(assertion, { scope: "calendar.read" }),
      400,
      "invalid_scope",
    );
  });
});

describe("the request (RFC 7521 §4.1, RFC 6749 §3.2)", () => {
  it("missing assertion: invalid_request", async () => {
    await expectRefused(broker, redeem(""), 400, "invalid_request");
  });

  it("repeated assertion: invalid_request", async () => {
    const assertion = await idJag();
    await expectRefused(
      broker,
      postForm(
        broker,
        "/token",
        { grant_type: JWT_BEARER_GRANT, assertion: [assertion, assertion] },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });

  it.each(["subject_token", "resource", "requested_token_type"])(
    "a token exchange parameter (%s) with the jwt-bearer grant: invalid_request",
    async (name) => {
      const value = name === "resource" ? DOCS : await idJag();
      await expectRefused(broker, redeem(await idJag(), { [name]: value }), 400, "invalid_request");
    },
  );

  it("no client authentication: invalid_client", async () => {
    await expectRefused(
      broker,
      postForm(broker, "/token", { grant_type: JWT_BEARER_GRANT, assertion: await idJag() }),
      401,
      "invalid_client",
    );
  });
});

describe("an ID-JAG anywhere else (draft §3.1 typ)", () => {
  it("rule 3: presented as a subject token in a token exchange: invalid_request", async () => {
    const assertion = await idJag();
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: assertion, resource: DOCS, scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
    expect(broker.events.findLast((e) => e.type === "exchange.denied")).toMatchObject({
      rule: "subject.claim.typ",
    });
  });
});

describe("design §3.6: rate limits count the grant as an exchange", () => {
  it("per_subject: past the limit, 429 slow_down with Retry-After, no token", async () => {
    const b = await startTestBroker({
      editPolicy: (data) => {
        markIdJag(data);
        data.broker.rate_limit = { per_subject: "2/1m" };
      },
    });
    try {
      const jagFor = () =>
        b.idpToken(
          {
            sub: USER,
            client_id: "orchestrator",
            jti: randomUUID(),
            resource: DOCS,
            scope: "docs.read",
          },
          { typ: "oauth-id-jag+jwt" },
        );
      const post = async () =>
        postForm(
          b,
          "/token",
          { grant_type: JWT_BEARER_GRANT, assertion: await jagFor() },
          "orchestrator",
        );
      await expectIssued(b, post());
      await expectIssued(b, post());
      const { res } = await expectRefused(b, post(), 429, "slow_down");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await b.close();
    }
  });
});

describe("rule 8: fail closed", () => {
  it("store down: 503 temporarily_unavailable, no token", async () => {
    const b = await startTestBroker({ editPolicy: markIdJag });
    try {
      const assertion = await b.idpToken(
        {
          sub: USER,
          client_id: "orchestrator",
          jti: randomUUID(),
          resource: DOCS,
          scope: "docs.read",
        },
        { typ: "oauth-id-jag+jwt" },
      );
      await b.store.close();
      const res = await postForm(
        b,
        "/token",
        { grant_type: JWT_BEARER_GRANT, assertion },
        "orchestrator",
      );
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe("temporarily_unavailable");
      expect(res.headers.get("retry-after")).toBeTruthy();
      expect(b.events.some((e) => e.type === "exchange.issued")).toBe(false);
    } finally {
      await b.close();
    }
  });
});
