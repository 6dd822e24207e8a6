/**
 * RFC 8693 §2.1 actor tokens: the actor is always the authenticated agent. An actor token,
 * when sent, may only confirm that agent; naming anyone else is refused, and nothing issued.
 */

import { decodeJwt, SignJWT } from "jose";
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

/** A JWT the researcher agent signs with its own registered key. */
function selfSigned(claims: Record<string, unknown> = {}) {
  const now = broker.clock.now();
  return new SignJWT({
    iss: "researcher",
    sub: "researcher",
    aud: broker.issuer,
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: "EdDSA", kid: "researcher-1" })
    .sign(broker.researcherKey.privateKey);
}

async function exchange(
  agent: string,
  actorToken: string,
  actorTokenType: string = TOKEN_TYPE.jwt,
) {
  const issuedBefore = broker.events.filter((e) => e.type === "exchange.issued").length;
  const res = await broker.post(
    "/token",
    {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: await broker.devToken("alice@example.com"),
      subject_token_type: TOKEN_TYPE.jwt,
      actor_token: actorToken,
      actor_token_type: actorTokenType,
      audience: "docs",
      scope: "docs.read",
    },
    agent,
  );
  const body = (await res.json()) as Record<string, string>;
  const issued = broker.events.filter((e) => e.type === "exchange.issued").length - issuedBefore;
  return { status: res.status, body, issued };
}

describe("RFC 8693 §2.1 actor_token", () => {
  it("accepts an actor token the agent signed itself, and the actor is that agent", async () => {
    const { status, body, issued } = await exchange("researcher", await selfSigned());
    expect(status).toBe(200);
    expect(issued).toBe(1);
    expect(decodeJwt(body.access_token as string).act).toEqual({ sub: "researcher" });
  });

  it("accepts a trusted issuer's token whose sub is the agent", async () => {
    const { status, body } = await exchange(
      "orchestrator",
      await broker.idpToken({ sub: "orchestrator", jti: crypto.randomUUID() }),
    );
    expect(status).toBe(200);
    expect(decodeJwt(body.access_token as string).act).toEqual({ sub: "orchestrator" });
  });

  const refusals: [string, () => Promise<{ agent: string; token: string; type?: string }>][] = [
    [
      "another agent's self-signed actor token",
      async () => ({ agent: "orchestrator", token: await selfSigned() }),
    ],
    [
      "a trusted issuer's token naming another agent",
      async () => ({ agent: "orchestrator", token: await broker.idpToken({ sub: "researcher" }) }),
    ],
    [
      "a self-signed actor token naming another sub",
      async () => ({ agent: "researcher", token: await selfSigned({ sub: "orchestrator" }) }),
    ],
    [
      "a self-signed actor token for another audience",
      async () => ({
        agent: "researcher",
        token: await selfSigned({ aud: "https://elsewhere.example" }),
      }),
    ],
    [
      "an expired actor token",
      async () => ({
        agent: "researcher",
        token: await selfSigned({ exp: broker.clock.now() - 120 }),
      }),
    ],
    ["garbage", async () => ({ agent: "researcher", token: "not-a-jwt" })],
    [
      "an unsupported actor_token_type",
      async () => ({
        agent: "researcher",
        token: await selfSigned(),
        type: "urn:ietf:params:oauth:token-type:saml2",
      }),
    ],
  ];

  it.each(refusals)("refuses %s: 400 invalid_request, nothing issued", async (_, make) => {
    const { agent, token, type } = await make();
    const { status, body, issued } = await exchange(agent, token, type);
    expect(status).toBe(400);
    expect(body.error).toBe("invalid_request");
    expect(body.access_token).toBeUndefined();
    expect(issued).toBe(0);
  });
});
