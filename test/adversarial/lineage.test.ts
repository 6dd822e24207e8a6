/**
 * Rule 7 with the lineage in the token (issue 19, exchange/steps/lineage.ts): every token Baton
 * issues names its ancestors in its signed `lineage` claim, so an exchange writes no record;
 * revocation marks are the only lineage state, written when something is revoked.
 *
 * Against a real broker on a real SQLite store. The claim is checked as an attacker would
 * shape it, signed with the broker's own key (what a bug or a stolen key could produce), and a
 * token issued before the claim existed still counts its record: no record, no token.
 */

import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import sqlite3 from "sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markRevoked } from "../../src/exchange/steps/lineage.js";
import { signToken } from "../../src/tokens/mint.js";
import { DELEGATION_TOKEN_TYP } from "../../src/tokens/token-types.js";
import { exchange, expectIssued, expectRefused, type Form } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";

const USER = "alice@example.com";

let dir: string;
let broker: TestBroker;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-lineage-"));
  broker = await startTestBroker({ store: `sqlite://${join(dir, "store.sqlite")}` });
});
afterAll(async () => {
  await broker.close();
  await rm(dir, { recursive: true, force: true });
});

const now = () => broker.clock.now();

/** A delegation token orchestrator → flight-booker for `subject`, through the broker. */
async function delegate(subject: string): Promise<string> {
  const form: Form = {
    subject_token: subject,
    subject_token_type: TOKEN_TYPE.jwt,
    requested_token_type: TOKEN_TYPE.jwt,
    audience: "flight-booker",
    scope: "flights.search",
  };
  return (await expectIssued(broker, exchange(broker, form, "orchestrator"))).token;
}

/** flight-booker redeems a delegation token for the flights API. */
const redeem = (delegation: string) =>
  exchange(
    broker,
    {
      subject_token: delegation,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "flights",
      scope: "flights.search",
    },
    "flight-booker",
  );

/** A delegation token to flight-booker signed with the broker's own key, with `extra` claims. */
function brokerSigned(extra: Record<string, unknown>): Promise<string> {
  return signToken(broker.deps.keys, DELEGATION_TOKEN_TYP, {
    iss: broker.issuer,
    sub: USER,
    aud: broker.issuer,
    client_id: "orchestrator",
    scope: "flights.search",
    iat: now(),
    exp: now() + 300,
    jti: `j-${randomUUID()}`,
    act: { sub: "orchestrator" },
    may_act: { sub: "flight-booker" },
    ...extra,
  });
}

/** Alice's own token from the trusted outside issuer: not Baton's, so without ancestors. */
const outsideUserToken = () =>
  broker.idpToken({
    iss: broker.idp.issuer,
    aud: broker.issuer,
    sub: USER,
    scope: "docs.read",
    iat: now(),
    exp: now() + 600,
  });

/** Rows of the store's one table, and the highest rowid it ever gave: any write moves one. */
function storeRows(): Promise<{ rows: number; last: number }> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(join(dir, "store.sqlite"), sqlite3.OPEN_READONLY);
    db.get<{ rows: number; last: number | null }>(
      "SELECT count(*) AS rows, max(rowid) AS last FROM keyv",
      (error, row) => {
        db.close();
        if (error) reject(error);
        else resolve({ rows: row.rows, last: row.last ?? 0 });
      },
    );
  });
}

describe("the lineage travels in the token", () => {
  it("a delegation token names the development token's root; what it yields adds its jti", async () => {
    const subject = await broker.devToken(USER, { agent: "orchestrator" });
    const delegation = await delegate(subject);
    const root = `dev:${decodeJwt(subject).jti}`;
    expect(decodeJwt(delegation).lineage).toEqual([root]);

    const access = await expectIssued(broker, redeem(delegation));
    expect(access.claims.lineage).toEqual([root, decodeJwt(delegation).jti]);
    // A user's own token from an outside issuer is not Baton's to revoke: no ancestors.
    const outside = await outsideUserToken();
    const docs = await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: outside, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
    );
    expect(docs.claims.lineage).toEqual([]);
  });

  it("an exchange of an outside user's token writes nothing to the store", async () => {
    const outside = await outsideUserToken();
    const before = await storeRows();
    for (let i = 0; i < 20; i++) {
      await expectIssued(
        broker,
        exchange(
          broker,
          { subject_token: outside, audience: "docs", scope: "docs.read" },
          "orchestrator",
        ),
      );
    }
    expect(await storeRows()).toEqual(before);
  });

  it("revoking an ancestor still ends every descendant (rule 7), through the claim alone", async () => {
    const subject = await broker.devToken(USER, { agent: "orchestrator" });
    const delegation = await delegate(subject);
    const access = await expectIssued(broker, redeem(delegation));
    const rowsBefore = await storeRows();
    const revoked = await broker.post("/revoke", { token: delegation }, "orchestrator");
    expect(revoked.status).toBe(200);
    // The revocation is the one write: its mark.
    expect((await storeRows()).rows).toBe(rowsBefore.rows + 1);
    const res = await broker.post("/introspect", { token: access.token }, "flight-booker");
    expect(await res.json()).toEqual({ active: false });
    const refused = await expectRefused(broker, redeem(delegation), 400, "invalid_request");
    expect(refused.body).not.toHaveProperty("access_token");
    expect(broker.events.at(-1)).toMatchObject({
      type: "exchange.denied",
      rule: "subject.revoked",
    });
  });
});

describe("a lineage claim that Baton would never sign is refused", () => {
  for (const [what, extra] of [
    ["not a list", { lineage: "dev:x" }],
    ["an id that is not a string", { lineage: [42] }],
    ["an empty id", { lineage: [""] }],
    ["more ids than any chain", { lineage: Array.from({ length: 65 }, (_, i) => `j${i}`) }],
    ["outside_actors that is not a positive integer", { lineage: [], outside_actors: 0 }],
    ["outside_actors as text", { lineage: [], outside_actors: "1" }],
  ] as const) {
    it(`${what}: 400 invalid_request, nothing issued`, async () => {
      const token = await brokerSigned(extra);
      await expectRefused(broker, redeem(token), 400, "invalid_request");
      expect(broker.events.at(-1)).toMatchObject({
        type: "exchange.denied",
        rule: "subject.claims",
      });
      // Introspection does not take it either.
      const res = await broker.post("/introspect", { token }, "flight-booker");
      expect(await res.json()).toEqual({ active: false });
    });
  }

  it("a well-formed claim from the broker's key is taken as it is (control)", async () => {
    await expectIssued(broker, redeem(await brokerSigned({ lineage: [] })));
  });
});

describe("a token issued before the claim: its record decides (no record, no token)", () => {
  const legacy = async (record?: { a: string[] }) => {
    const token = await brokerSigned({});
    const jti = decodeJwt(token).jti as string;
    if (record) await broker.store.set(`tok:${jti}`, { ...record, k: "delegation" }, 600_000);
    return token;
  };

  it("with its record: accepted, and its descendants inherit the record's ancestors", async () => {
    const token = await legacy({ a: ["dev:old-root"] });
    const access = await expectIssued(broker, redeem(token));
    expect(access.claims.lineage).toEqual(["dev:old-root", decodeJwt(token).jti]);
  });

  it("without a record: 400 invalid_request, nothing issued, inactive at introspection", async () => {
    const token = await legacy();
    await expectRefused(broker, redeem(token), 400, "invalid_request");
    expect(broker.events.at(-1)).toMatchObject({ rule: "subject.revoked" });
    const res = await broker.post("/introspect", { token }, "flight-booker");
    expect(await res.json()).toEqual({ active: false });
  });

  it("with a revoked ancestor in its record: refused, nothing issued", async () => {
    const token = await legacy({ a: ["dev:revoked-root"] });
    await markRevoked(broker.store, "dev:revoked-root", now() + 600, now());
    await expectRefused(broker, redeem(token), 400, "invalid_request");
    expect(broker.events.at(-1)).toMatchObject({ rule: "subject.revoked" });
  });
});
