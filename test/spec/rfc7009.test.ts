/**
 * RFC 7009 token revocation at POST /revoke. Baton's revocation cascades (design §4 rule 7):
 * revoking a token makes every token derived from it inactive, at introspection and as a
 * subject token. Real HTTP over loopback against a real broker.
 */

import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokedAt } from "../../src/exchange/steps/lineage.js";
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
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

const exchangeForm = (subject: string, form: Record<string, string>) => ({
  grant_type: TOKEN_EXCHANGE_GRANT,
  subject_token: subject,
  subject_token_type: TOKEN_TYPE.jwt,
  ...form,
});

/** Exchanges `subject` as `agent` and returns the issued token. */
async function exchange(
  agent: string,
  subject: string,
  form: Record<string, string>,
): Promise<string> {
  const res = await broker.post("/token", exchangeForm(subject, form), agent);
  const body = (await res.json()) as Record<string, string>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token as string;
}

const delegate = (from: string, subject: string, to: string, scope: string) =>
  exchange(from, subject, { requested_token_type: TOKEN_TYPE.jwt, audience: to, scope });

/** user → orchestrator ⇒ flight-booker ⇒ researcher, and each one's access token. */
async function tree() {
  const user = await broker.devToken(USER);
  const toBooker = await delegate(
    "orchestrator",
    user,
    "flight-booker",
    "flights.search docs.read",
  );
  const bookerAccess = await exchange("flight-booker", toBooker, {
    resource: FLIGHTS,
    scope: "flights.search",
  });
  const toResearcher = await delegate("flight-booker", toBooker, "researcher", "docs.read");
  const researcherAccess = await exchange("researcher", toResearcher, {
    resource: DOCS,
    scope: "docs.read",
  });
  const orchestratorAccess = await exchange("orchestrator", user, {
    resource: DOCS,
    scope: "docs.read",
  });
  return { user, toBooker, bookerAccess, toResearcher, researcherAccess, orchestratorAccess };
}

/** Revokes `token` as `agent` (null: no client authentication). */
function revoke(token: string, agent: string | null = "orchestrator", hint?: string) {
  return broker.post(
    "/revoke",
    { token, ...(hint === undefined ? {} : { token_type_hint: hint }) },
    agent ?? undefined,
  );
}

async function isActive(token: string): Promise<boolean> {
  const res = await broker.post("/introspect", { token }, "orchestrator");
  expect(res.status).toBe(200);
  return ((await res.json()) as { active: boolean }).active;
}

/** Asserts that `token` is refused as a subject token by `agent`, and nothing is issued. */
async function expectRefusedAsSubject(agent: string, token: string, form: Record<string, string>) {
  const issued = broker.events.filter((e) => e.type === "exchange.issued").length;
  const res = await broker.post("/token", exchangeForm(token, form), agent);
  const body = (await res.json()) as Record<string, string>;
  expect(res.status).toBe(400);
  expect(body.error).toBe("invalid_request");
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(body).not.toHaveProperty("access_token");
  expect(broker.events.filter((e) => e.type === "exchange.issued").length).toBe(issued);
}

describe("RFC 7009 §2.1 revocation request", () => {
  it.each([
    ["no client authentication", null],
    ["an unknown client", "no-such-agent"],
  ])("rfc7009 §2.1: the caller must authenticate (401 invalid_client): %s", async (_, agent) => {
    const { orchestratorAccess } = await tree();
    const res = await revoke(orchestratorAccess, agent);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_client");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await isActive(orchestratorAccess)).toBe(true);
  });

  it("rfc7009 §2.1: a client with no part in the token is unauthorized_client", async () => {
    const { orchestratorAccess } = await tree();
    const res = await revoke(orchestratorAccess, "researcher");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("unauthorized_client");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await isActive(orchestratorAccess)).toBe(true);
    expect(broker.events.some((e) => e.type === "token.revoked" && e.by === "researcher")).toBe(
      false,
    );
  });

  it("rfc7009 §2.1: the token parameter is required", async () => {
    const res = await broker.post("/revoke", {}, "orchestrator");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
  });
});

describe("RFC 7009 §2.2 revocation response", () => {
  it("rfc7009 §2.2: an unknown, garbage or foreign token answers 200", async () => {
    const foreign = await broker.idpToken({ sub: USER });
    for (const token of ["garbage", "a.b.c", "x".repeat(9000), foreign]) {
      const res = await revoke(token);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("");
    }
  });

  it("rfc7009 §2.2: an unknown token_type_hint is only a hint", async () => {
    const { orchestratorAccess } = await tree();
    const res = await revoke(orchestratorAccess, "orchestrator", "refresh_token");
    expect(res.status).toBe(200);
    expect(await isActive(orchestratorAccess)).toBe(false);
  });

  it("rfc7009 §2.2: revoking twice answers 200 both times", async () => {
    const { orchestratorAccess } = await tree();
    expect((await revoke(orchestratorAccess)).status).toBe(200);
    expect((await revoke(orchestratorAccess)).status).toBe(200);
    expect(await isActive(orchestratorAccess)).toBe(false);
  });

  it("rfc7009 §2.2: a second revocation changes nothing: one token.revoked event, the first time kept", async () => {
    const { orchestratorAccess } = await tree();
    const jti = decodeJwt(orchestratorAccess).jti as string;
    const revocations = () =>
      broker.events.filter((e) => e.type === "token.revoked" && e.jti === jti).length;
    expect((await revoke(orchestratorAccess)).status).toBe(200);
    const [first] = await revokedAt(broker.store, [jti]);
    expect(first).toBe(broker.clock.now());
    broker.clock.advance(10);
    const again = await revoke(orchestratorAccess);
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("");
    expect(revocations()).toBe(1);
    expect(await revokedAt(broker.store, [jti])).toEqual([first]);
  });
});

describe("RFC 7009 §2 revocation cascades (design §4 rule 7)", () => {
  it("rfc7009 §2: revoking a delegation token revokes its descendants at introspection", async () => {
    const t = await tree();
    expect((await revoke(t.toBooker, "orchestrator")).status).toBe(200);
    expect(broker.events.at(-1)).toMatchObject({
      type: "token.revoked",
      jti: decodeJwt(t.toBooker).jti,
      by: "orchestrator",
    });
    for (const token of [t.toBooker, t.bookerAccess, t.toResearcher, t.researcherAccess]) {
      expect(await isActive(token)).toBe(false);
    }
    // A sibling branch, from the same user token, is untouched.
    expect(await isActive(t.orchestratorAccess)).toBe(true);
  });

  it("rfc7009 §2: a revoked token and its descendants are refused as subject tokens", async () => {
    const t = await tree();
    // The sub-agent in the middle cuts off its own sub-agent.
    expect((await revoke(t.toResearcher, "flight-booker")).status).toBe(200);
    await expectRefusedAsSubject("researcher", t.toResearcher, {
      resource: DOCS,
      scope: "docs.read",
    });
    // Its parent still works.
    expect(await isActive(t.toBooker)).toBe(true);

    expect((await revoke(t.toBooker, "orchestrator")).status).toBe(200);
    await expectRefusedAsSubject("flight-booker", t.toBooker, {
      resource: FLIGHTS,
      scope: "flights.search",
    });
  });

  it("rfc7009 §2: revoking the user's token revokes everything derived from it", async () => {
    const t = await tree();
    expect((await revoke(t.user, "orchestrator")).status).toBe(200);
    for (const token of [
      t.toBooker,
      t.bookerAccess,
      t.toResearcher,
      t.researcherAccess,
      t.orchestratorAccess,
    ]) {
      expect(await isActive(token)).toBe(false);
    }
    await expectRefusedAsSubject("orchestrator", t.user, { resource: DOCS, scope: "docs.read" });
  });

  it("rfc7009 §2: an access token's revocation leaves its parent active", async () => {
    const t = await tree();
    expect((await revoke(t.bookerAccess, "flight-booker")).status).toBe(200);
    expect(await isActive(t.bookerAccess)).toBe(false);
    expect(await isActive(t.toBooker)).toBe(true);
    expect(await isActive(t.researcherAccess)).toBe(true);
  });
});
