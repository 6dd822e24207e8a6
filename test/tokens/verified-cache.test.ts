/**
 * The verification cache (issue 7): a subject token presented again skips its signature check,
 * and nothing else. Time, revocation, trust, the expected claims and (issue 14 item 12a)
 * whether its key is still in the ring are judged afresh on every exchange, so every refusal
 * still holds for a token that was accepted a moment before.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rotateKeys } from "../../src/tokens/key-ring-admin.js";
import { VerifiedTokens } from "../../src/tokens/verified-cache.js";
import { exchange, expectRefused } from "../helpers/assertions.js";
import { startTestBroker, T0, type TestBroker } from "../helpers/broker.js";

const USER = "alice@example.com";

describe("VerifiedTokens", () => {
  it("answers within the token's time window only, as jose would", () => {
    const cache = new VerifiedTokens();
    cache.set("k", { exp: T0 + 60, nbf: T0 - 10 }, T0);
    expect(cache.get("k", T0, 0)).toEqual({ exp: T0 + 60, nbf: T0 - 10 });
    expect(cache.get("k", T0 + 60, 0)).toBeUndefined();
    // Dropped once untimely: the next call goes through full verification.
    expect(cache.size).toBe(0);
    cache.set("early", { exp: T0 + 60, nbf: T0 + 20 }, T0);
    expect(cache.get("early", T0, 30)).toBeDefined();
    expect(cache.get("early", T0, 0)).toBeUndefined();
  });

  it("trusts a check for five minutes at most, and keeps a bounded number of entries", () => {
    const cache = new VerifiedTokens(3);
    cache.set("old", { exp: T0 + 3600 }, T0);
    expect(cache.get("old", T0 + 300, 0)).toBeDefined();
    expect(cache.get("old", T0 + 301, 0)).toBeUndefined();
    for (const key of ["a", "b", "c", "d"]) cache.set(key, { exp: T0 + 60 }, T0);
    expect(cache.size).toBe(3);
    expect(cache.get("a", T0, 0)).toBeUndefined();
    expect(cache.get("d", T0, 0)).toBeDefined();
  });
});

describe("a subject token presented again", () => {
  let broker: TestBroker;
  beforeEach(async () => {
    broker = await startTestBroker();
  });
  afterEach(() => broker.close());

  const calendar = (subject: string) => ({ subject_token: subject, audience: "calendar" });

  it("is refused once it has expired, though it was accepted before", async () => {
    const subject = await broker.idpToken({ sub: USER, scope: "calendar.read", exp: T0 + 120 });
    expect((await exchange(broker, calendar(subject), "orchestrator")).status).toBe(200);
    broker.clock.advance(120 + 31); // past exp and the 30 s tolerance for outside issuers
    const { body } = await expectRefused(
      broker,
      exchange(broker, calendar(subject), "orchestrator"),
      400,
      "invalid_request",
    );
    expect(body.error_description).toBeDefined();
    expect(broker.events.at(-1)).toMatchObject({
      type: "exchange.denied",
      rule: "subject.expired",
    });
  });

  it("is refused once its issuer is no longer trusted by the policy in force", async () => {
    const subject = await broker.idpToken({ sub: USER, scope: "calendar.read" });
    expect((await exchange(broker, calendar(subject), "orchestrator")).status).toBe(200);
    broker.reloadWith((data) => {
      data.issuers = [];
    });
    await expectRefused(
      broker,
      exchange(broker, calendar(subject), "orchestrator"),
      400,
      "invalid_request",
    );
    expect(broker.events.at(-1)).toMatchObject({ rule: "subject.untrusted_issuer" });
  });

  it("is refused once its key has left the ring (a rotation past its publication window), though cached", async () => {
    // A development token may outlive max_ttl (its --ttl), so it can outlive its key too.
    const subject = await broker.devToken(USER, { ttl: 7200 });
    expect((await exchange(broker, calendar(subject), "orchestrator")).status).toBe(200);
    const maxTtl = broker.policy.broker.maxTtl;
    await rotateKeys(broker.store, "EdDSA", broker.clock, maxTtl);
    await broker.deps.keys.reload();
    // Near the end of the old key's window the token is verified again, and cached afresh.
    broker.clock.advance(maxTtl - 100);
    expect((await exchange(broker, calendar(subject), "orchestrator")).status).toBe(200);
    // Past the window (max_ttl + the key refresh, and a second): the ring drops the key.
    broker.clock.advance(100 + 5 + 1);
    await broker.deps.keys.reload();
    await expectRefused(
      broker,
      exchange(broker, calendar(subject), "orchestrator"),
      400,
      "invalid_request",
    );
    expect(broker.events.at(-1)).toMatchObject({ type: "exchange.denied", rule: "subject.kid" });
  });

  it("is refused once its key was taken out of the stored ring, for a delegation token too", async () => {
    const user = await broker.devToken(USER);
    const { flights } = await delegateSearch(broker, user);
    expect((await exchange(broker, calendar(user), "orchestrator")).status).toBe(200);

    // The key leaves the stored ring (as `baton keys withdraw` takes it out) and is re-read.
    const signer = broker.deps.keys.signingKey().kid;
    await rotateKeys(broker.store, "EdDSA", broker.clock, broker.policy.broker.maxTtl);
    const ring = await broker.store.get<{ keys: { kid: string }[] }>("keys:ring");
    await broker.store.set("keys:ring", {
      ...ring,
      keys: ring?.keys.filter((k) => k.kid !== signer),
    });
    await broker.deps.keys.reload();

    await expectRefused(broker, exchange(broker, flights, "flight-booker"), 400, "invalid_request");
    expect(broker.events.at(-1)).toMatchObject({ type: "exchange.denied", rule: "subject.kid" });
    await expectRefused(
      broker,
      exchange(broker, calendar(user), "orchestrator"),
      400,
      "invalid_request",
    );
    expect(broker.events.at(-1)).toMatchObject({ type: "exchange.denied", rule: "subject.kid" });
  });

  it("is refused once revoked: a delegation token accepted once does not redeem after revocation", async () => {
    const user = await broker.devToken(USER);
    const { delegation, flights } = await delegateSearch(broker, user);
    const revoked = await broker.post("/revoke", { token: delegation }, "orchestrator");
    expect(revoked.status).toBe(200);
    await expectRefused(broker, exchange(broker, flights, "flight-booker"), 400, "invalid_request");
  });
});

/**
 * The orchestrator delegates flights.search to the flight booker, which redeems it once: the
 * delegation token, now verified and cached, and the booker's request that redeems it.
 */
async function delegateSearch(broker: TestBroker, user: string) {
  const delegated = await exchange(
    broker,
    {
      subject_token: user,
      requested_token_type: "urn:ietf:params:oauth:token-type:jwt",
      audience: "flight-booker",
      scope: "flights.search",
    },
    "orchestrator",
  );
  expect(delegated.status).toBe(200);
  const { access_token: delegation } = (await delegated.json()) as { access_token: string };
  const flights = { subject_token: delegation, audience: "flights", scope: "flights.search" };
  expect((await exchange(broker, flights, "flight-booker")).status).toBe(200);
  return { delegation, flights };
}
