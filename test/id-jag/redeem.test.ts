/**
 * The JWT bearer grant with an ID-JAG (issue 18 item 2; RFC 7523 §2.1;
 * draft-ietf-oauth-identity-assertion-authz-grant §4.4; MCP EMA §7.2.1): what it issues, for an
 * API and for Baton's own `/mcp`, with discovery, approvals, lineage and revocation.
 *
 * The ID-JAGs are minted in the test by the test IdP's key (`https://idp.test`, marked
 * `id_jag: true`), the shape of an outside enterprise IdP. The refusals are in
 * test/adversarial/id-jag.test.ts.
 */

import { randomUUID } from "node:crypto";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ID_JAG_PROFILE, JWT_BEARER_GRANT } from "../../src/tokens/token-types.js";
import { ALICE, decideAs } from "../helpers/approvals.js";
import {
  exchange,
  expectApprovalPending,
  expectIssued,
  expectRefused,
  type Form,
  postForm,
} from "../helpers/assertions.js";
import { startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";

const DOCS = "https://docs.example.com/api";
const CALENDAR = "https://calendar.example.com";

/** The test IdP's ID-JAGs are accepted (policy `issuers[].id_jag`). */
const markIdJag = (data: Record<string, any>) => {
  data.issuers[0].id_jag = true;
};

let broker: TestBroker;
/** The same policy, with no issuer marked `id_jag`. */
let plain: TestBroker;

beforeAll(async () => {
  [broker, plain] = await Promise.all([
    startTestBroker({ editPolicy: markIdJag }),
    startTestBroker(),
  ]);
});
afterAll(async () => {
  await Promise.all([broker.close(), plain.close()]);
});

/** An ID-JAG of the test IdP for this broker (draft §3.1), for the orchestrator. */
function idJag(claims: Record<string, unknown> = {}, b: TestBroker = broker): Promise<string> {
  return b.idpToken(
    {
      sub: ALICE,
      client_id: "orchestrator",
      jti: randomUUID(),
      resource: DOCS,
      scope: "docs.read docs.write",
      exp: b.clock.now() + 300,
      ...claims,
    },
    { typ: "oauth-id-jag+jwt" },
  );
}

/** POST /token with the JWT bearer grant, as `agent` (client_secret_basic). */
const redeem = (assertion: string, extra: Form = {}, agent = "orchestrator", b = broker) =>
  postForm(b, "/token", { grant_type: JWT_BEARER_GRANT, assertion, ...extra }, agent);

const metadata = async (b: TestBroker) =>
  (await (await fetch(`${b.url}/.well-known/oauth-authorization-server`)).json()) as Record<
    string,
    unknown
  >;

describe("discovery (design §3.2, draft §7)", () => {
  it("draft §7: with an id_jag issuer, metadata lists the jwt-bearer grant and the id-jag profile", async () => {
    const m = await metadata(broker);
    expect(m.grant_types_supported).toEqual([
      "urn:ietf:params:oauth:grant-type:token-exchange",
      JWT_BEARER_GRANT,
    ]);
    expect(m.authorization_grant_profiles_supported).toEqual([ID_JAG_PROFILE]);
    // Draft §8.4: never which issuers are trusted.
    expect(JSON.stringify(m)).not.toContain("idp.test");
  });

  it("rfc9728 §2: /mcp names Baton as its authorization server, where its ID-JAGs are redeemed", async () => {
    broker.setPolicy({
      ...broker.policy,
      broker: { ...broker.policy.broker, devIssuer: false },
    });
    try {
      const res = await fetch(`${broker.url}/.well-known/oauth-protected-resource/mcp`);
      const doc = (await res.json()) as { authorization_servers: string[] };
      expect(doc.authorization_servers).toEqual([broker.issuer, broker.idp.issuer]);
    } finally {
      broker.setPolicy({ ...broker.policy, broker: { ...broker.policy.broker, devIssuer: true } });
    }
  });

  it("draft §7: with none, neither is listed, and the grant is unsupported_grant_type", async () => {
    const m = await metadata(plain);
    expect(m.grant_types_supported).toEqual(["urn:ietf:params:oauth:grant-type:token-exchange"]);
    expect(m).not.toHaveProperty("authorization_grant_profiles_supported");
    const { body } = await expectRefused(
      plain,
      redeem(await idJag({}, plain), {}, "orchestrator", plain),
      400,
      "unsupported_grant_type",
    );
    expect(body.error_description).toBe("The grant type is not supported");
  });
});

describe("an access token for an API (draft §4.4.2, EMA §7.2.1)", () => {
  it("rfc7523 §2.1: an RFC 9068 token for the ID-JAG's resource, the agent acting for its user", async () => {
    const assertion = await idJag();
    const { body, claims, chain, token } = await expectIssued(broker, redeem(assertion));
    expect(body).toMatchObject({
      token_type: "Bearer",
      issued_token_type: TOKEN_TYPE.accessToken,
      scope: "docs.read docs.write",
      expires_in: 300,
    });
    expect(decodeProtectedHeader(token).typ).toBe("at+jwt");
    expect(claims).toMatchObject({
      iss: broker.issuer,
      sub: ALICE,
      aud: DOCS,
      client_id: "orchestrator",
      scope: "docs.read docs.write",
    });
    expect(chain).toEqual(["orchestrator"]);
    const issued = broker.events.findLast((e) => e.type === "exchange.issued");
    const { jti } = JSON.parse(
      Buffer.from(assertion.split(".")[1] as string, "base64url").toString(),
    );
    expect(issued).toMatchObject({ subject: ALICE, assertion: { iss: "https://idp.test", jti } });
  });

  it("EMA §7.2.1: the request's scope narrows the ID-JAG's", async () => {
    const { body } = await expectIssued(broker, redeem(await idJag(), { scope: "docs.read" }));
    expect(body.scope).toBe("docs.read");
  });

  it("EMA §7.2.1: with no scope requested, the ID-JAG's scopes this agent may hold for the API", async () => {
    // calendar.read belongs to another API; the researcher holds docs.read only.
    const scope = "docs.read docs.write calendar.read";
    const { body } = await expectIssued(
      broker,
      redeem(await idJag({ scope, client_id: "researcher" }), {}, "researcher"),
    );
    expect(body.scope).toBe("docs.read");
  });

  it("rule 2: the token lives no longer than the ID-JAG", async () => {
    const { body } = await expectIssued(
      broker,
      redeem(await idJag({ exp: broker.clock.now() + 42 })),
    );
    expect(body.expires_in).toBe(42);
  });

  it("rule 7: the token can be revoked, and introspection then says inactive", async () => {
    const { token } = await expectIssued(broker, redeem(await idJag()));
    const active = await broker.post("/introspect", { token }, "orchestrator");
    expect(await active.json()).toMatchObject({
      active: true,
      sub: ALICE,
      client_id: "orchestrator",
    });
    expect((await broker.post("/revoke", { token }, "orchestrator")).status).toBe(200);
    const after = await broker.post("/introspect", { token }, "orchestrator");
    expect(await after.json()).toEqual({ active: false });
  });
});

describe("rule 6: an elevated scope waits for a human", () => {
  it("authorization_pending, then the same grant with approval_id once the user approved", async () => {
    const assertion = await idJag({ resource: CALENDAR, scope: "calendar.read calendar.write" });
    const pending = await expectApprovalPending(
      broker,
      redeem(assertion, { scope: "calendar.write" }),
    );
    await decideAs(broker, ALICE, pending.approval_id, "approve");
    // The ID-JAG was not spent by the pending answer: it is presented again.
    const { claims } = await expectIssued(
      broker,
      redeem(assertion, { scope: "calendar.write", approval_id: pending.approval_id }),
    );
    expect(claims).toMatchObject({ aud: CALENDAR, scope: "calendar.write" });
    // Spent now: the approval and the ID-JAG are each used once.
    await expectRefused(
      broker,
      redeem(assertion, { scope: "calendar.write", approval_id: pending.approval_id }),
      400,
      "invalid_grant",
    );
  });
});

describe("Baton's own /mcp as the ID-JAG's resource (MCP Enterprise-Managed Authorization)", () => {
  const mcpJag = () =>
    idJag({ resource: `${broker.issuer}/mcp`, scope: "docs.read calendar.read" });

  it("EMA §7.2.1: a token for /mcp naming the agent as its holder, which /mcp accepts", async () => {
    const { claims } = await expectIssued(broker, redeem(await mcpJag()));
    expect(claims).toMatchObject({
      iss: broker.issuer,
      sub: ALICE,
      aud: `${broker.issuer}/mcp`,
      client_id: "orchestrator",
      scope: "docs.read calendar.read",
    });
    // The session's own credential: the agent acts (act) in each token the session obtains.
    expect(claims.act).toBeUndefined();
    const res = await fetch(`${broker.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${(await expectIssued(broker, redeem(await mcpJag()))).token}`,
        accept: "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "id-jag-test", version: "0.0.0" },
        },
      }),
    });
    expect(res.status, await res.text()).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBeTruthy();
  });

  it("rule 1, 4, 7: as the session's subject token it bounds, is acted on, and revokes its children", async () => {
    const { token: session } = await expectIssued(broker, redeem(await mcpJag()));
    const { claims, chain, token } = await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: session, resource: DOCS, scope: "docs.read" },
        "orchestrator",
      ),
    );
    expect(claims).toMatchObject({ sub: ALICE, aud: DOCS, scope: "docs.read" });
    expect(chain).toEqual(["orchestrator"]);
    // docs.write is the agent's, but not the session token's.
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: session, resource: DOCS, scope: "docs.write" },
        "orchestrator",
      ),
      400,
      "invalid_scope",
    );
    // Only its holder may use it.
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: session, resource: DOCS, scope: "docs.read" },
        "researcher",
      ),
      400,
      "invalid_request",
    );
    expect((await broker.post("/revoke", { token: session }, "orchestrator")).status).toBe(200);
    const child = await broker.post("/introspect", { token }, "orchestrator");
    expect(await child.json()).toEqual({ active: false });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: session, resource: DOCS, scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });

  it("rule 1: with no scope from the ID-JAG or the request, nothing is defaulted for /mcp", async () => {
    await expectRefused(
      broker,
      redeem(await idJag({ resource: `${broker.issuer}/mcp`, scope: undefined })),
      400,
      "invalid_scope",
    );
  });
});
