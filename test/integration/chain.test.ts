/**
 * The delegation chain of issue 2's "done when": user → orchestrator → flight-booker (through
 * a delegation token) yields an access token whose `act` is nested and whose scope and `exp`
 * lie within every parent's.
 */

import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

describe("user → orchestrator → flight-booker", () => {
  it("nests act and narrows scope and exp at every hop (RFC 8693 §4.1)", async () => {
    const user = await broker.devToken("alice@example.com", { ttl: 1800 });

    const delegation = await broker.post(
      "/token",
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: user,
        subject_token_type: TOKEN_TYPE.jwt,
        requested_token_type: TOKEN_TYPE.jwt,
        audience: "flight-booker",
        scope: "flights.search docs.read",
        ttl_seconds: "900",
      },
      "orchestrator",
    );
    expect(delegation.status).toBe(200);
    const d = (await delegation.json()) as { access_token: string };
    expect(d).toMatchObject({
      issued_token_type: TOKEN_TYPE.jwt,
      token_type: "N_A",
      scope: "flights.search docs.read",
      expires_in: 900,
    });
    const dClaims = decodeJwt(d.access_token);
    expect(decodeProtectedHeader(d.access_token).typ).toBe("delegation+jwt");
    expect(dClaims).toMatchObject({
      sub: "alice@example.com",
      aud: broker.issuer,
      act: { sub: "orchestrator" },
      may_act: { sub: "flight-booker" },
    });

    const access = await broker.post(
      "/token",
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: d.access_token,
        subject_token_type: TOKEN_TYPE.jwt,
        resource: "https://flights.example.com",
        scope: "flights.search",
        ttl_seconds: "3600",
      },
      "flight-booker",
    );
    expect(access.status).toBe(200);
    const a = (await access.json()) as { access_token: string };
    const claims = decodeJwt(a.access_token);
    expect(decodeProtectedHeader(a.access_token).typ).toBe("at+jwt");
    expect(claims.act).toEqual({ sub: "flight-booker", act: { sub: "orchestrator" } });
    expect(claims.aud).toBe("https://flights.example.com");
    expect(claims.client_id).toBe("flight-booker");
    expect(claims.scope).toBe("flights.search");
    // Asked for an hour; the delegation token ends in 15 minutes, so does this one.
    expect(claims.exp).toBe(dClaims.exp);
    expect(claims.exp as number).toBeLessThanOrEqual(decodeJwt(user).exp as number);
    expect(claims.may_act).toBeUndefined();
  });
});
