/**
 * Interop with an independent OAuth client library, oauth4webapi: discover Baton by RFC 8414,
 * exchange a token (RFC 8693) with client_secret_basic and client_secret_post, and validate
 * the result as an RFC 9068 resource server would (`validateJwtAccessToken`).
 *
 * oauth4webapi reads the system clock, so the broker's clock is moved to the present first.
 * Plain http is allowed only because the broker listens on loopback.
 */

import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";
const FLIGHTS = "https://flights.example.com";
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;

let broker: TestBroker;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  broker = await startTestBroker();
  broker.clock.advance(Math.floor(Date.now() / 1000) - broker.clock.now());
  const issuer = new URL(broker.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...INSECURE });
  as = await oauth.processDiscoveryResponse(issuer, response);
});
afterAll(() => broker.close());

const client = (id: string): oauth.Client => ({ client_id: id });
const secretOf = (id: string) => broker.secrets[id] as string;

/** A token exchange through oauth4webapi, as `agent`, with the given client authentication. */
function exchangeRequest(
  agent: string,
  auth: (secret: string) => oauth.ClientAuth,
  parameters: Record<string, string>,
): Promise<Response> {
  return oauth.genericTokenEndpointRequest(
    as,
    client(agent),
    auth(secretOf(agent)),
    TOKEN_EXCHANGE_GRANT,
    parameters,
    INSECURE,
  );
}

/** What an API at `audience` does with a bearer token: validate it per RFC 9068. */
function resourceServerValidates(token: string, audience: string) {
  const request = new Request(`${audience}/search`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return oauth.validateJwtAccessToken(as, request, audience, INSECURE);
}

describe("oauth4webapi: RFC 8414 discovery", () => {
  it("rfc8414: discovers the broker with algorithm oauth2", () => {
    expect(as.issuer).toBe(broker.issuer);
    expect(as.token_endpoint).toBe(`${broker.issuer}/token`);
    expect(as.jwks_uri).toBe(`${broker.issuer}/.well-known/jwks.json`);
    expect(as.grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT);
  });
});

describe("oauth4webapi: RFC 8693 exchange and RFC 9068 validation", () => {
  for (const [name, auth] of [
    ["client_secret_basic", oauth.ClientSecretBasic],
    ["client_secret_post", oauth.ClientSecretPost],
  ] as const) {
    it(`rfc8693 §2: exchanges with ${name} and the token validates as RFC 9068`, async () => {
      const subject = await broker.devToken(USER);
      const response = await exchangeRequest("orchestrator", auth, {
        subject_token: subject,
        subject_token_type: TOKEN_TYPE.jwt,
        resource: FLIGHTS,
        scope: "flights.search",
      });
      const result = await oauth.processGenericTokenEndpointResponse(
        as,
        client("orchestrator"),
        response,
      );
      expect(result).toMatchObject({
        token_type: "bearer",
        issued_token_type: TOKEN_TYPE.accessToken,
        scope: "flights.search",
        expires_in: broker.policy.broker.defaultTtl,
      });

      const claims = await resourceServerValidates(result.access_token, FLIGHTS);
      expect(claims).toMatchObject({
        iss: broker.issuer,
        aud: FLIGHTS,
        sub: USER,
        client_id: "orchestrator",
        scope: "flights.search",
        act: { sub: "orchestrator" },
      });
      // Another API's resource server refuses it.
      await expect(
        resourceServerValidates(result.access_token, "https://calendar.example.com"),
      ).rejects.toMatchObject({ code: oauth.JWT_CLAIM_COMPARISON });
    });
  }

  it("rfc6749 §5.2: a wrong secret surfaces as invalid_client through the library", async () => {
    const subject = await broker.devToken(USER);
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client("orchestrator"),
      oauth.ClientSecretPost("not-the-secret"),
      TOKEN_EXCHANGE_GRANT,
      { subject_token: subject, subject_token_type: TOKEN_TYPE.jwt, resource: FLIGHTS },
      INSECURE,
    );
    const failure = oauth
      .processGenericTokenEndpointResponse(as, client("orchestrator"), response)
      .catch((err: unknown) => err);
    expect(await failure).toBeInstanceOf(oauth.ResponseBodyError);
    expect(await failure).toMatchObject({ error: "invalid_client", status: 401 });
  });
});

describe("oauth4webapi: delegation tokens (token_type N_A)", () => {
  async function delegationResponse(): Promise<Response> {
    return exchangeRequest("orchestrator", oauth.ClientSecretBasic, {
      subject_token: await broker.devToken(USER),
      subject_token_type: TOKEN_TYPE.jwt,
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "flights.search",
    });
  }

  it("rfc8693 §2.2.1: N_A is processed with recognizedTokenTypes, and only with it", async () => {
    await expect(
      oauth.processGenericTokenEndpointResponse(
        as,
        client("orchestrator"),
        await delegationResponse(),
      ),
    ).rejects.toBeInstanceOf(oauth.UnsupportedOperationError);

    const result = await oauth.processGenericTokenEndpointResponse(
      as,
      client("orchestrator"),
      await delegationResponse(),
      { recognizedTokenTypes: { n_a: () => {} } },
    );
    expect(result).toMatchObject({ token_type: "n_a", issued_token_type: TOKEN_TYPE.jwt });
  });

  it("rfc9068 §4: validateJwtAccessToken rejects a delegation token", async () => {
    const { access_token: delegation } = await oauth.processGenericTokenEndpointResponse(
      as,
      client("orchestrator"),
      await delegationResponse(),
      { recognizedTokenTypes: { n_a: () => {} } },
    );
    // It fails on its typ: it is not an at+jwt, whatever audience the API expects.
    for (const audience of [FLIGHTS, broker.issuer]) {
      await expect(resourceServerValidates(delegation, audience)).rejects.toMatchObject({
        code: oauth.INVALID_RESPONSE,
        message: expect.stringContaining('"typ"'),
      });
    }
  });

  it("rfc8693 §4.1: the sub-agent redeems it; the API sees the nested act", async () => {
    const { access_token: delegation } = await oauth.processGenericTokenEndpointResponse(
      as,
      client("orchestrator"),
      await delegationResponse(),
      { recognizedTokenTypes: { n_a: () => {} } },
    );
    const response = await exchangeRequest("flight-booker", oauth.ClientSecretPost, {
      subject_token: delegation,
      subject_token_type: TOKEN_TYPE.jwt,
      resource: FLIGHTS,
      scope: "flights.search",
    });
    const result = await oauth.processGenericTokenEndpointResponse(
      as,
      client("flight-booker"),
      response,
    );
    const claims = await resourceServerValidates(result.access_token, FLIGHTS);
    expect(claims).toMatchObject({
      client_id: "flight-booker",
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    expect(claims).not.toHaveProperty("may_act");
  });
});
