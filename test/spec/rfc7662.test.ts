/**
 * RFC 7662 token introspection at POST /introspect, with the RFC 8693 §7.4 claims (`act`,
 * `may_act`). Real HTTP over loopback against a real broker.
 */

import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postForm } from "../helpers/assertions.js";
import {
  sha256Hex,
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";
const FLIGHTS = "https://flights.example.com";
/** The flights API's own client: it introspects flights tokens (RFC 7662 §4), never exchanges. */
const FLIGHTS_API = { id: "flights-api", secret: "flights-api-test-secret" };

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.agents["flights-api"] = {
        description: "The flights API",
        secret_sha256: sha256Hex(FLIGHTS_API.secret),
        disabled: true,
        introspects: ["flights"],
      };
    },
  });
});
afterAll(() => broker.close());

/** Exchanges `subject` as `agent` and returns the issued token. */
async function exchange(
  agent: string,
  subject: string,
  form: Record<string, string>,
): Promise<string> {
  const res = await broker.post(
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

/** user → orchestrator (delegation to flight-booker) → flight-booker's access token. */
async function chain(ttl = 3600) {
  const user = await broker.devToken(USER, { ttl });
  const delegation = await exchange("orchestrator", user, {
    requested_token_type: TOKEN_TYPE.jwt,
    audience: "flight-booker",
    scope: "flights.search",
  });
  const access = await exchange("flight-booker", delegation, {
    resource: FLIGHTS,
    scope: "flights.search",
  });
  return { user, delegation, access };
}

/** Introspects `token` as `agent` (client_secret_basic; null: no client authentication). */
async function introspect(token: string, agent: string | null = "orchestrator") {
  const res = await broker.post("/introspect", { token }, agent ?? undefined);
  return { res, body: (await res.json()) as Record<string, unknown> };
}

async function expectInactive(token: string) {
  const { res, body } = await introspect(token);
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
  // RFC 7662 §2.2: an inactive token reveals nothing else.
  expect(body).toEqual({ active: false });
}

describe("RFC 7662 §2.1 introspection request", () => {
  it.each([
    ["no client authentication", null],
    ["an unknown client", "no-such-agent"],
  ])("rfc7662 §2.1: the caller must authenticate (401 invalid_client): %s", async (_, agent) => {
    const { access } = await chain();
    const { res, body } = await introspect(access, agent);
    expect(res.status).toBe(401);
    expect(body.error).toBe("invalid_client");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(body).not.toHaveProperty("active");
  });

  it("rfc7662 §2.1: a 401 through the Authorization header carries a Basic challenge", async () => {
    const { access } = await chain();
    // With the Authorization header, the 401 carries a challenge (RFC 6749 §5.2).
    const { res } = await introspect(access, "no-such-agent");
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("rfc7662 §2.1: the token parameter is required", async () => {
    const res = await broker.post("/introspect", {}, "orchestrator");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
  });
});

describe("RFC 7662 §2.2 introspection response", () => {
  it("rfc7662 §2.2: an active access token shows iss sub aud client_id scope exp iat jti act token_type", async () => {
    const { access } = await chain();
    const { res, body } = await introspect(access);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const claims = decodeJwt(access);
    expect(body).toEqual({
      active: true,
      iss: broker.issuer,
      sub: USER,
      aud: FLIGHTS,
      client_id: "flight-booker",
      scope: "flights.search",
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      // RFC 8693 §7.4: the act claim is part of the introspection response.
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
      token_type: "Bearer",
    });
    expect(body).not.toHaveProperty("may_act");
  });

  it("rfc7662 §2.2: a delegation token shows may_act and token_type N_A", async () => {
    const { delegation } = await chain();
    const { body } = await introspect(delegation, "flight-booker");
    expect(body).toMatchObject({
      active: true,
      iss: broker.issuer,
      sub: USER,
      aud: broker.issuer,
      client_id: "orchestrator",
      scope: "flights.search",
      act: { sub: "orchestrator" },
      may_act: { sub: "flight-booker" },
      token_type: "N_A",
    });
  });

  it("rfc7662 §2.2: an expired token is inactive", async () => {
    const { access, delegation } = await chain();
    const exp = decodeJwt(access).exp as number;
    expect((await introspect(access)).body.active).toBe(true);
    broker.clock.advance(exp - broker.clock.now() + 1);
    await expectInactive(access);
    await expectInactive(delegation);
  });

  it("rfc7662 §2.2: garbage, foreign and tampered tokens are inactive", async () => {
    const { access } = await chain();
    const [header, payload] = access.split(".");
    const tampered = `${header}.${payload}.${"A".repeat(86)}`;
    const foreign = await broker.idpToken({ sub: USER });
    for (const token of ["garbage", "a.b.c", "x".repeat(10_000), tampered, foreign]) {
      await expectInactive(token);
    }
  });

  it("rfc7662 §2.2: a token whose parent is revoked is inactive", async () => {
    const { user, delegation, access } = await chain();
    expect((await introspect(access)).body.active).toBe(true);
    const revoked = await broker.post("/revoke", { token: delegation }, "orchestrator");
    expect(revoked.status).toBe(200);
    await expectInactive(delegation);
    await expectInactive(access);
    // The user's own token is the parent's parent: revoking the child left it alone.
    const fresh = await exchange("orchestrator", user, {
      resource: FLIGHTS,
      scope: "flights.search",
    });
    expect((await introspect(fresh)).body.active).toBe(true);
  });

  it("rfc7662 §2.2: introspection is audited by jti, never with the token", async () => {
    const { access } = await chain();
    await introspect(access);
    const event = broker.events.at(-1);
    expect(event).toMatchObject({
      type: "token.introspected",
      by: "orchestrator",
      active: true,
      jti: decodeJwt(access).jti,
    });
    expect(JSON.stringify(broker.events)).not.toContain(access);
  });
});

describe("RFC 7662 §4 security considerations", () => {
  /** The raw answer to POST /introspect by `who`: status, the headers that matter, the bytes. */
  async function answer(token: string, who: string | typeof FLIGHTS_API) {
    const res = await postForm(broker, "/introspect", { token }, who);
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      cacheControl: res.headers.get("cache-control"),
      text: await res.text(),
    };
  }

  it("rfc7662 §4: a client not entitled to the token gets the unknown token's {active:false}", async () => {
    const { access, delegation } = await chain();
    // Control: the holder sees it.
    expect(JSON.parse((await answer(access, "flight-booker")).text).active).toBe(true);
    const unknown = await answer("not-a-token", "impersonator");
    expect(unknown).toEqual({
      status: 200,
      type: "application/json",
      cacheControl: "no-store",
      text: '{"active":false}',
    });
    // impersonator is in no chain, holds neither, and introspects no API.
    expect(await answer(access, "impersonator")).toEqual(unknown);
    expect(await answer(delegation, "impersonator")).toEqual(unknown);
  });

  it("rfc7662 §4: the protected resource the token is for (introspects) sees it, no other", async () => {
    const { access, delegation } = await chain();
    const seen = JSON.parse((await answer(access, FLIGHTS_API)).text);
    expect(seen).toMatchObject({ active: true, aud: FLIGHTS, client_id: "flight-booker" });
    const user = await broker.devToken(USER);
    const calendar = await exchange("orchestrator", user, {
      resource: "https://calendar.example.com",
      scope: "calendar.read",
    });
    const unknown = await answer("not-a-token", FLIGHTS_API);
    expect(await answer(calendar, FLIGHTS_API)).toEqual(unknown);
    expect(await answer(delegation, FLIGHTS_API)).toEqual(unknown);
  });
});
