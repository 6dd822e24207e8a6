/**
 * End to end, two trust domains (issue 18 item 3; draft-ietf-oauth-identity-assertion-authz-grant
 * §4; MCP Enterprise-Managed Authorization): two Baton brokers with different issuers, each on
 * its own loopback port, composed as `baton serve` composes (test/helpers/broker.ts).
 *
 * A is the IdP: its policy has B's API behind B's authorization server, with the agent's
 * client_id there. B is the resource authorization server: it trusts A's issuer (`jwks_uri`,
 * `id_jag: true`). A issues an ID-JAG by token exchange; the client redeems it at B with
 * oauth4webapi's generic token endpoint request (the JWT bearer grant), not Baton's own code;
 * an API protected by `baton/verify` at B accepts the access token, and a revocation at B makes
 * it inactive there. Then the refusals that need two domains.
 */

import { createVerifier, type Verifier } from "baton/verify";
import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compilePolicy } from "../../src/policy/load.js";
import { JWT_BEARER_GRANT } from "../../src/tokens/token-types.js";
import { exchange, expectIssued, expectRefused, postForm } from "../helpers/assertions.js";
import { sha256Hex, startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";

const USER = "alice@example.com";
const REPORTS = "https://reports.b.example";
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
/** The agent's client at B (A's `client_ids`), and B's API's own introspection client. */
const CLIENT_AT_B = { id: "partner-app", secret: "partner-app-secret" };
const REPORTS_API = { id: "reports-api", secret: "reports-api-secret" };
/** Another client at B, which the ID-JAG does not name. */
const OTHER_AT_B = { id: "other-app", secret: "other-app-secret" };

let a: TestBroker;
let b: TestBroker;

beforeAll(async () => {
  [a, b] = await Promise.all([startTestBroker(), startTestBroker()]);
  // Each policy names the other's issuer, known once both listen: swapped in as a reload would.
  a.setPolicy(compilePolicy([{ file: "a.yaml", data: policyOfA(a, b) }]));
  b.setPolicy(compilePolicy([{ file: "b.yaml", data: policyOfB(a, b) }]));
  // oauth4webapi reads the system clock: both brokers move to the present.
  for (const broker of [a, b]) {
    broker.clock.advance(Math.floor(Date.now() / 1000) - broker.clock.now());
  }
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});

const BROKER = { signing_alg: "EdDSA", default_ttl: "5m", max_ttl: "1h", max_depth: 3 };

function policyOfA(a: TestBroker, b: TestBroker): Record<string, unknown> {
  return {
    broker: { ...BROKER, dev_issuer: true },
    apis: {
      reports: {
        resource: REPORTS,
        description: "B's reports, behind B's authorization server",
        authorization_server: b.issuer,
        client_ids: { orchestrator: CLIENT_AT_B.id },
        scopes: { "reports.read": "Read reports", "reports.write": "Write reports" },
      },
    },
    agents: {
      orchestrator: {
        secret_sha256: sha256Hex(a.secrets.orchestrator as string),
        scopes: ["reports.read", "reports.write"],
      },
    },
  };
}

function policyOfB(a: TestBroker, b: TestBroker): Record<string, unknown> {
  return {
    broker: BROKER,
    issuers: [
      {
        issuer: a.issuer,
        jwks_uri: `${a.issuer}/.well-known/jwks.json`,
        audience: b.issuer,
        algorithms: ["EdDSA"],
        id_jag: true,
      },
    ],
    apis: {
      reports: {
        resource: REPORTS,
        description: "Reports",
        scopes: { "reports.read": "Read reports", "reports.write": "Write reports" },
      },
    },
    agents: {
      [CLIENT_AT_B.id]: { secret_sha256: sha256Hex(CLIENT_AT_B.secret), scopes: ["reports.read"] },
      [OTHER_AT_B.id]: { secret_sha256: sha256Hex(OTHER_AT_B.secret), scopes: ["reports.read"] },
      [REPORTS_API.id]: {
        secret_sha256: sha256Hex(REPORTS_API.secret),
        scopes: [],
        disabled: true,
        introspects: ["reports"],
      },
    },
  };
}

/** At A: the orchestrator exchanges its user's token for an ID-JAG for B (draft §4.3). */
async function idJagFromA(scope = "reports.read"): Promise<string> {
  const subject = await a.devToken(USER, { agent: "orchestrator" });
  const { token, body } = await expectIssued(
    a,
    exchange(
      a,
      {
        subject_token: subject,
        requested_token_type: TOKEN_TYPE.idJag,
        audience: b.issuer,
        resource: REPORTS,
        scope,
      },
      "orchestrator",
    ),
  );
  expect(body.issued_token_type).toBe(TOKEN_TYPE.idJag);
  return token;
}

/** At B, through oauth4webapi: discovery, then the JWT bearer grant with the ID-JAG. */
async function redeemAtB(assertion: string, scope?: string) {
  const issuer = new URL(b.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...INSECURE }),
  );
  expect(as.grant_types_supported).toContain(JWT_BEARER_GRANT);
  const client: oauth.Client = { client_id: CLIENT_AT_B.id };
  const response = await oauth.genericTokenEndpointRequest(
    as,
    client,
    oauth.ClientSecretBasic(CLIENT_AT_B.secret),
    JWT_BEARER_GRANT,
    { assertion, ...(scope === undefined ? {} : { scope }) },
    INSECURE,
  );
  return oauth.processGenericTokenEndpointResponse(as, client, response);
}

/** B's reports API, protected by `baton/verify` with introspection (revocation counts). */
const reportsApi = (issuer: string): Verifier =>
  createVerifier({
    issuer,
    audience: REPORTS,
    now: () => b.clock.now(),
    introspection: { clientId: REPORTS_API.id, clientSecret: REPORTS_API.secret },
  });

describe("two trust domains: A issues the ID-JAG, B redeems it, B's API accepts", () => {
  it("draft §4.3-4.4: the ID-JAG becomes B's access token, which baton/verify at B accepts", async () => {
    const assertion = await idJagFromA();
    const jag = decodeJwt(assertion);
    expect(jag).toMatchObject({
      iss: a.issuer,
      aud: b.issuer,
      client_id: CLIENT_AT_B.id,
      sub: USER,
    });

    const tokens = await redeemAtB(assertion);
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.scope).toBe("reports.read");
    const who = await reportsApi(b.issuer).verify(`Bearer ${tokens.access_token}`, {
      scopes: ["reports.read"],
    });
    expect(who.subject).toBe(USER);
    expect(who.actor).toBe(CLIENT_AT_B.id);
    // Rule 4: B's client acts, around the chain A's ID-JAG carries (A's own agent).
    expect(who.chain).toEqual([CLIENT_AT_B.id, "orchestrator"]);
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: b.issuer,
      aud: REPORTS,
      client_id: CLIENT_AT_B.id,
    });
    // B's audit names the ID-JAG it redeemed by its issuer: `sub` is unique only with it.
    expect(b.events.findLast((e) => e.type === "exchange.issued")).toMatchObject({
      subject: USER,
      assertion: { iss: a.issuer, jti: jag.jti },
    });

    // Rule 7 at B: revoked, and the API's verifier (asking B) refuses it.
    const revoke = await postForm(b, "/revoke", { token: tokens.access_token }, CLIENT_AT_B);
    expect(revoke.status).toBe(200);
    await expect(
      reportsApi(b.issuer).verify(`Bearer ${tokens.access_token}`),
    ).rejects.toMatchObject({
      code: "invalid_token",
    });
  });

  it("rfc7523 §3 (7): the same ID-JAG is not redeemed twice at B", async () => {
    const assertion = await idJagFromA();
    await redeemAtB(assertion);
    await expect(redeemAtB(assertion)).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("EMA §7.2.1: a scope beyond the ID-JAG is refused at B", async () => {
    const assertion = await idJagFromA("reports.read");
    await expectRefused(
      b,
      postForm(
        b,
        "/token",
        { grant_type: JWT_BEARER_GRANT, assertion, scope: "reports.write" },
        CLIENT_AT_B,
      ),
      400,
      "invalid_scope",
    );
  });

  it("draft §4.4.1: another client at B cannot redeem it", async () => {
    const assertion = await idJagFromA();
    await expectRefused(
      b,
      postForm(b, "/token", { grant_type: JWT_BEARER_GRANT, assertion }, OTHER_AT_B),
      400,
      "invalid_grant",
    );
    expect(b.events.findLast((e) => e.type === "exchange.denied")).toMatchObject({
      rule: "assertion.client",
    });
    // Nor B's API's own client, which may only introspect.
    await expectRefused(
      b,
      postForm(b, "/token", { grant_type: JWT_BEARER_GRANT, assertion }, REPORTS_API),
      400,
      "unauthorized_client",
    );
  });

  it("typ: the ID-JAG is no access token at an API, nor a subject token at either broker", async () => {
    const assertion = await idJagFromA();
    // An API that trusts A's tokens still refuses it: its typ is not at+jwt (RFC 9068 §4).
    await expect(
      createVerifier({ issuer: a.issuer, audience: REPORTS, now: () => a.clock.now() }).verify(
        `Bearer ${assertion}`,
      ),
    ).rejects.toMatchObject({ code: "invalid_token" });
    await expectRefused(
      b,
      postForm(
        b,
        "/token",
        {
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          subject_token: assertion,
          subject_token_type: TOKEN_TYPE.jwt,
          resource: REPORTS,
          scope: "reports.read",
        },
        CLIENT_AT_B,
      ),
      400,
      "invalid_request",
    );
  });

  it("draft §8.3: A never redeems its own ID-JAG", async () => {
    const assertion = await idJagFromA();
    // A trusts no issuer with id_jag: the grant does not even exist there.
    await expectRefused(
      a,
      postForm(a, "/token", { grant_type: JWT_BEARER_GRANT, assertion }, "orchestrator"),
      400,
      "unsupported_grant_type",
    );
  });
});
