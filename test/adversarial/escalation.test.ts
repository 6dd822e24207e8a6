/**
 * Adversarial suite: escalation, forged and stripped chains, cycles, depth, holders, bad input
 * and replay (design §4 rules 1–5, §3.6, §8; issue 2 "done when"). Every refusal asserts the
 * exact status, the exact error code, and that nothing was issued; nothing yields a 5xx.
 */

import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  basicAuth,
  exchange,
  expectApprovalPending,
  expectIssued,
  expectRawRefused,
  expectRefused,
  type Form,
  issuedCount,
  postForm,
  rawPost,
} from "../helpers/assertions.js";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({
    // The impersonator may also be a sub-agent, to show a delegated subject keeps its chain.
    editPolicy: (data) => {
      data.agents.orchestrator.delegate_to.push("impersonator");
    },
  });
});
afterAll(() => broker.close());

/** Asks `from` for a delegation token to `to`, and returns it (asserting it was issued). */
async function delegate(
  from: string,
  subject: string,
  to: string,
  scope: string,
  b = broker,
): Promise<string> {
  const { token, claims } = await expectIssued(
    b,
    exchange(
      b,
      { subject_token: subject, requested_token_type: TOKEN_TYPE.jwt, audience: to, scope },
      from,
    ),
  );
  expect(claims.may_act).toEqual({ sub: to });
  return token;
}

/** A delegation request, for the refusal cases. */
const delegationForm = (subject: string, to: string, scope: string): Form => ({
  subject_token: subject,
  requested_token_type: TOKEN_TYPE.jwt,
  audience: to,
  scope,
});

const idpToken = (claims: Record<string, unknown>) =>
  broker.idpToken({ sub: USER, scope: "docs.read flights.search calendar.read", ...claims });

describe("scope escalation (rule 1)", () => {
  it("a scope the agent lacks", async () => {
    const user = await broker.devToken(USER);
    // researcher holds docs.read and flights.search only.
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "docs", scope: "docs.write" },
        "researcher",
      ),
      400,
      "invalid_scope",
    );
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "calendar", scope: "calendar.read" },
        "flight-booker",
      ),
      400,
      "invalid_scope",
    );
    // One good scope does not carry a bad one along: the whole request is refused.
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "docs", scope: "docs.read docs.write" },
        "researcher",
      ),
      400,
      "invalid_scope",
    );
  });

  it.each([
    ["a scope of another API than the target", "calendar.read"],
    ["an unknown scope", "docs.admin"],
    ["a scope of the target and one of another API", "docs.read flights.search"],
    ["a wildcard", "*"],
    ["the API's id as a scope", "docs"],
  ])("%s (scope=%s): 400 invalid_scope", async (_, scope) => {
    const user = await broker.devToken(USER);
    await expectRefused(
      broker,
      exchange(broker, { subject_token: user, audience: "docs", scope }, "orchestrator"),
      400,
      "invalid_scope",
    );
  });

  it("no scope at all, for an API without default_scopes", async () => {
    const user = await broker.devToken(USER);
    // docs has no default_scopes: no scope named means nothing to grant, never the maximum.
    await expectRefused(
      broker,
      exchange(broker, { subject_token: user, audience: "docs" }, "orchestrator"),
      400,
      "invalid_scope",
    );
  });

  it("an elevated scope is never granted without approval", async () => {
    const user = await broker.devToken(USER);
    // Rule 6: the request waits for a human (authorization_pending); nothing is issued.
    const pending = await expectApprovalPending(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "calendar", scope: "calendar.write" },
        "orchestrator",
      ),
    );
    expect(
      broker.events.find(
        (e) => e.type === "approval.requested" && e.approval === pending.approval_id,
      ),
    ).toMatchObject({
      agent: "orchestrator",
      subject: USER,
      target: "calendar",
      scopes: ["calendar.write"],
    });
  });

  it("a sub-agent asking more than its delegation token carries", async () => {
    const user = await broker.devToken(USER);
    const d = await delegate("orchestrator", user, "flight-booker", "flights.search");
    // flight-booker holds docs.read itself, but the delegation does not carry it.
    await expectRefused(
      broker,
      exchange(broker, { subject_token: d, audience: "docs", scope: "docs.read" }, "flight-booker"),
      400,
      "invalid_scope",
    );
    // …nor may it pass on more than it got.
    await expectRefused(
      broker,
      exchange(
        broker,
        delegationForm(d, "researcher", "flights.search docs.read"),
        "flight-booker",
      ),
      400,
      "invalid_scope",
    );
    await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: d, audience: "flights", scope: "flights.search" },
        "flight-booker",
      ),
    );
  });

  it("a delegation naming a scope the sub-agent may never hold", async () => {
    const user = await broker.devToken(USER);
    // researcher may not hold docs.write, though orchestrator does.
    await expectRefused(
      broker,
      exchange(broker, delegationForm(user, "researcher", "docs.write"), "orchestrator"),
      400,
      "invalid_scope",
    );
  });

  it("a dev token bound with scopes, then asked wider", async () => {
    const user = await broker.devToken(USER, { scopes: ["docs.read"] });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "docs", scope: "docs.write" },
        "orchestrator",
      ),
      400,
      "invalid_scope",
    );
    await expectRefused(
      broker,
      exchange(broker, delegationForm(user, "flight-booker", "flights.search"), "orchestrator"),
      400,
      "invalid_scope",
    );
    await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
    );
  });

  it("an idp token (scopes_bound) asked wider than its scope claim", async () => {
    const token = await broker.idpToken({ sub: USER, scope: "docs.read" });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: token, audience: "docs", scope: "docs.write" },
        "orchestrator",
      ),
      400,
      "invalid_scope",
    );
    // A scope claim that is not a string bounds to nothing.
    const odd = await broker.idpToken({ sub: USER, scope: ["docs.read", "docs.write"] });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: odd, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_scope",
    );
  });
});

describe("a second target (rule 3, RFC 8693 §2.1)", () => {
  it.each<[string, Form]>([
    [
      "a resource and an audience",
      { resource: "https://docs.example.com/api", audience: "calendar" },
    ],
    [
      "two resources",
      { resource: ["https://docs.example.com/api", "https://calendar.example.com"] },
    ],
    ["two audiences by id", { audience: ["docs", "calendar"] }],
    [
      "an id and a resource URI as audiences",
      { audience: ["docs", "https://calendar.example.com"] },
    ],
  ])("two APIs named by %s: 400 invalid_target", async (_, target) => {
    const user = await broker.devToken(USER);
    await expectRefused(
      broker,
      exchange(broker, { subject_token: user, scope: "docs.read", ...target }, "orchestrator"),
      400,
      "invalid_target",
    );
  });

  it("one API named twice is one target", async () => {
    const user = await broker.devToken(USER);
    const { claims } = await expectIssued(
      broker,
      exchange(
        broker,
        {
          subject_token: user,
          scope: "docs.read",
          resource: "https://docs.example.com/api",
          audience: ["docs", "https://docs.example.com/api"],
        },
        "orchestrator",
      ),
    );
    expect(claims.aud).toBe("https://docs.example.com/api");
  });

  it.each<[string, Form]>([
    ["an unknown API", { audience: "billing" }],
    [
      "a resource with a trailing slash the registry lacks",
      { resource: "https://docs.example.com/api/" },
    ],
    ["a resource whose host differs in case", { resource: "https://DOCS.example.com/api" }],
  ])("%s: 400 invalid_target", async (_, target) => {
    const user = await broker.devToken(USER);
    await expectRefused(
      broker,
      exchange(broker, { subject_token: user, scope: "docs.read", ...target }, "orchestrator"),
      400,
      "invalid_target",
    );
  });

  it("a delegation naming two sub-agents, or a resource", async () => {
    const user = await broker.devToken(USER);
    await expectRefused(
      broker,
      exchange(
        broker,
        {
          ...delegationForm(user, "flight-booker", "flights.search"),
          audience: ["flight-booker", "researcher"],
        },
        "orchestrator",
      ),
      400,
      "invalid_target",
    );
    await expectRefused(
      broker,
      exchange(
        broker,
        {
          ...delegationForm(user, "flight-booker", "flights.search"),
          resource: "https://flights.example.com",
        },
        "orchestrator",
      ),
      400,
      "invalid_target",
    );
  });
});

describe("a forged act (rule 4, RFC 8693 §4.1)", () => {
  it("an idp token that already carries act keeps that chain under the new actor", async () => {
    const token = await idpToken({ act: { sub: "flight-booker" } });
    const { claims, chain } = await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: token, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
    );
    expect(claims.act).toEqual({ sub: "orchestrator", act: { sub: "flight-booker" } });
    expect(chain).toEqual(["orchestrator", "flight-booker"]);
  });

  it.each([
    ["as the current actor", { sub: "orchestrator" }],
    ["as a prior actor", { sub: "researcher", act: { sub: "orchestrator" } }],
  ])(
    "an idp token whose act already holds the exchanging agent (%s) is a cycle: 400 invalid_request",
    async (_, act) => {
      const token = await idpToken({ act });
      await expectRefused(
        broker,
        exchange(
          broker,
          { subject_token: token, audience: "docs", scope: "docs.read" },
          "orchestrator",
        ),
        400,
        "invalid_request",
      );
    },
  );

  it.each<[string, unknown]>([
    ["a string", "orchestrator"],
    ["an empty sub", { sub: "" }],
    ["a numeric sub", { sub: 7 }],
    ["a list", [{ sub: "flight-booker" }]],
    ["no sub, only a nested act", { act: { sub: "x" } }],
    ["null", null],
  ])("an idp token with a malformed act (%s): 400 invalid_request", async (_, act) => {
    const token = await idpToken({ act });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: token, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });

  it("an idp act chain that would pass max_depth", async () => {
    // max_depth 3: two prior actors plus the orchestrator is the limit; three is past it.
    const deep = await idpToken({
      act: { sub: "flight-booker", act: { sub: "researcher", act: { sub: "impersonator" } } },
    });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: deep, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });

  it("an actor_token naming another agent than the caller", async () => {
    const user = await broker.devToken(USER);
    const actor = await broker.idpToken({ sub: "flight-booker" });
    await expectRefused(
      broker,
      exchange(
        broker,
        {
          subject_token: user,
          audience: "docs",
          scope: "docs.read",
          actor_token: actor,
          actor_token_type: TOKEN_TYPE.jwt,
        },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });
});

describe("a stripped act (rule 4, RFC 8693 §1.1)", () => {
  it("a non-impersonating agent always gets act", async () => {
    const { chain } = await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: await broker.devToken(USER), audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
    );
    expect(chain).toEqual(["orchestrator"]);
  });

  it("the impersonator may drop act for a user's own token (the permitted case)", async () => {
    const { claims } = await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: await broker.devToken(USER), audience: "docs", scope: "docs.read" },
        "impersonator",
      ),
    );
    expect(claims.act).toBeUndefined();
    expect(claims.sub).toBe(USER);
  });

  it("the impersonator with a delegated subject keeps the chain", async () => {
    const d = await delegate(
      "orchestrator",
      await broker.devToken(USER),
      "impersonator",
      "docs.read",
    );
    const { claims } = await expectIssued(
      broker,
      exchange(broker, { subject_token: d, audience: "docs", scope: "docs.read" }, "impersonator"),
    );
    expect(claims.act).toEqual({ sub: "impersonator", act: { sub: "orchestrator" } });
  });

  it("the impersonator with an idp token that carries act keeps it", async () => {
    const token = await idpToken({ act: { sub: "flight-booker" } });
    const { claims } = await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: token, audience: "docs", scope: "docs.read" },
        "impersonator",
      ),
    );
    expect(claims.act).toEqual({ sub: "impersonator", act: { sub: "flight-booker" } });
  });

  it("the impersonator sending an actor token is not impersonating", async () => {
    const actor = await broker.idpToken({ sub: "impersonator", jti: randomUUID() });
    const { claims } = await expectIssued(
      broker,
      exchange(
        broker,
        {
          subject_token: await broker.devToken(USER),
          audience: "docs",
          scope: "docs.read",
          actor_token: actor,
          actor_token_type: TOKEN_TYPE.jwt,
        },
        "impersonator",
      ),
    );
    expect(claims.act).toEqual({ sub: "impersonator" });
  });
});

describe("a cycle through delegation (rule 4)", () => {
  it("orchestrator → researcher → orchestrator is refused when the delegation is asked", async () => {
    const user = await broker.devToken(USER);
    const d = await delegate("orchestrator", user, "researcher", "docs.read");
    // researcher → orchestrator is a policy edge, but orchestrator is already in the chain.
    await expectRefused(
      broker,
      exchange(broker, delegationForm(d, "orchestrator", "docs.read"), "researcher"),
      400,
      "invalid_request",
    );
  });

  it("orchestrator → flight-booker → researcher → orchestrator is refused at the last hop", async () => {
    const user = await broker.devToken(USER);
    const d1 = await delegate("orchestrator", user, "flight-booker", "docs.read flights.search");
    const d2 = await delegate("flight-booker", d1, "researcher", "docs.read");
    await expectRefused(
      broker,
      exchange(broker, delegationForm(d2, "orchestrator", "docs.read"), "researcher"),
      400,
      "invalid_request",
    );
  });
});

describe("depth past max_depth (rule 4)", () => {
  let deep: TestBroker;
  beforeAll(async () => {
    deep = await startTestBroker({
      editPolicy: (data) => {
        data.broker.max_depth = 2;
      },
    });
  });
  afterAll(() => deep.close());

  it("a third agent in the chain is refused at delegation time", async () => {
    const user = await deep.devToken(USER);
    const d1 = await delegate("orchestrator", user, "flight-booker", "docs.read", deep);
    // Two agents: still within max_depth 2.
    const { chain } = await expectIssued(
      deep,
      exchange(deep, { subject_token: d1, audience: "docs", scope: "docs.read" }, "flight-booker"),
    );
    expect(chain).toEqual(["flight-booker", "orchestrator"]);
    // flight-booker → researcher is a policy edge, but it would make three.
    await expectRefused(
      deep,
      exchange(deep, delegationForm(d1, "researcher", "docs.read"), "flight-booker"),
      400,
      "invalid_request",
    );
  });

  it("an idp act chain that would make three", async () => {
    const token = await deep.idpToken({
      sub: USER,
      scope: "docs.read",
      act: { sub: "flight-booker", act: { sub: "researcher" } },
    });
    await expectRefused(
      deep,
      exchange(
        deep,
        { subject_token: token, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });
});

describe("a may_act mismatch (rule 5, RFC 8693 §4.4)", () => {
  const toBooker = async () =>
    delegate(
      "orchestrator",
      await broker.devToken(USER),
      "flight-booker",
      "flights.search docs.read",
    );

  it.each(["researcher", "orchestrator", "impersonator"])(
    "a delegation token for flight-booker redeemed by %s: 400 invalid_request",
    async (agent) => {
      const d = await toBooker();
      await expectRefused(
        broker,
        exchange(broker, { subject_token: d, audience: "docs", scope: "docs.read" }, agent),
        400,
        "invalid_request",
      );
    },
  );

  it("a delegation token for flight-booker used to delegate onwards by another agent", async () => {
    const d = await toBooker();
    // …nor used to delegate onwards by anyone but flight-booker.
    await expectRefused(
      broker,
      exchange(broker, delegationForm(d, "researcher", "docs.read"), "orchestrator"),
      400,
      "invalid_request",
    );
  });

  const mayActForm = (token: string) => ({
    subject_token: token,
    audience: "flights",
    scope: "flights.search",
  });

  it.each<[string, unknown]>([
    ["another agent", { sub: "orchestrator" }],
    ["an empty sub", { sub: "" }],
    ["a string, not an object", "orchestrator"],
    ["the agent, with a nested act", { sub: "flight-booker", act: { sub: "x" } }],
  ])(
    "an idp token whose may_act names %s is refused (RFC 8693 §4.4): 400 invalid_request",
    async (_, mayAct) => {
      await expectRefused(
        broker,
        exchange(broker, mayActForm(await idpToken({ may_act: mayAct })), "flight-booker"),
        400,
        "invalid_request",
      );
    },
  );

  it("an idp token whose may_act names the exchanging agent is accepted", async () => {
    const form = mayActForm;
    await expectIssued(
      broker,
      exchange(
        broker,
        form(await idpToken({ may_act: { sub: "flight-booker" } })),
        "flight-booker",
      ),
    );
  });
});

describe("a subject token held by one agent, presented with another's credentials", () => {
  it("a dev token bound to orchestrator (azp), exchanged by flight-booker", async () => {
    const user = await broker.devToken(USER, { agent: "orchestrator" });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "flights", scope: "flights.search" },
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
    await expectIssued(
      broker,
      exchange(
        broker,
        { subject_token: user, audience: "flights", scope: "flights.search" },
        "orchestrator",
      ),
    );
  });

  it.each(["flight-booker", "orchestrator"])(
    "an idp token whose azp and client_id disagree, presented by %s: 400 invalid_request",
    async (agent) => {
      const token = await idpToken({ azp: "flight-booker", client_id: "orchestrator" });
      await expectRefused(
        broker,
        exchange(
          broker,
          { subject_token: token, audience: "flights", scope: "flights.search" },
          agent,
        ),
        400,
        "invalid_request",
      );
    },
  );

  it.each<[string, Record<string, unknown>]>([
    ["client_id names another agent", { client_id: "orchestrator" }],
    ["azp names another agent", { azp: "orchestrator" }],
    ["azp is not a string", { azp: 42 }],
  ])("an idp token whose %s: 400 invalid_request", async (_, holder) => {
    const token = await idpToken(holder);
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: token, audience: "flights", scope: "flights.search" },
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
  });
});

describe("delegation off the policy edges (rule 5)", () => {
  it("to an agent not in delegate_to, to an unknown agent, to an API", async () => {
    const user = await broker.devToken(USER);
    // flight-booker may delegate to researcher only.
    await expectRefused(
      broker,
      exchange(broker, delegationForm(user, "orchestrator", "flights.search"), "flight-booker"),
      400,
      "invalid_target",
    );
    await expectRefused(
      broker,
      exchange(broker, delegationForm(user, "impersonator", "docs.read"), "flight-booker"),
      400,
      "invalid_target",
    );
    await expectRefused(
      broker,
      exchange(broker, delegationForm(user, "mallory", "docs.read"), "orchestrator"),
      400,
      "invalid_target",
    );
    await expectRefused(
      broker,
      exchange(broker, delegationForm(user, "docs", "docs.read"), "orchestrator"),
      400,
      "invalid_target",
    );
    // researcher has no edge to flight-booker.
    const d = await delegate("orchestrator", user, "researcher", "docs.read");
    await expectRefused(
      broker,
      exchange(broker, delegationForm(d, "flight-booker", "docs.read"), "researcher"),
      400,
      "invalid_target",
    );
  });

  it("a delegation with no audience", async () => {
    const user = await broker.devToken(USER);
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: user, requested_token_type: TOKEN_TYPE.jwt, scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });
});

describe("malformed and oversized input (design §3.6)", () => {
  const auth = () => basicAuth("orchestrator", broker.secrets.orchestrator as string);
  const formHeaders = () => ({
    "content-type": "application/x-www-form-urlencoded",
    authorization: auth(),
  });

  it("a 100 KB body", async () => {
    const user = await broker.devToken(USER);
    const form = {
      subject_token: user,
      audience: "docs",
      scope: "docs.read",
      padding: "x".repeat(100 * 1024),
    };
    await expectRefused(broker, exchange(broker, form, "orchestrator"), 400, "invalid_request");
  });

  it("a 100 KB body sent chunked, with no content-length", async () => {
    const before = issuedCount(broker);
    const head = Buffer.from(`grant_type=${encodeURIComponent(TOKEN_EXCHANGE_GRANT)}&padding=`);
    const chunks = [head, ...Array.from({ length: 25 }, () => Buffer.alloc(4096, "x"))];
    const res = await rawPost(
      broker.url,
      "/token",
      { ...formHeaders(), "transfer-encoding": "chunked" },
      chunks,
    );
    expectRawRefused(broker, before, res, 400, "invalid_request");
  });

  it("a 9000-character subject token", async () => {
    const user = await broker.devToken(USER);
    const long = `${user}${"A".repeat(9000 - user.length)}`;
    expect(long.length).toBe(9000);
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: long, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
    // A well-formed token made long by a huge claim.
    const fat = await broker.idpToken({ sub: USER, scope: "docs.read", pad: "p".repeat(9000) });
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: fat, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });

  it.each([
    ["not a JWT", "not-a-jwt"],
    ["three parts of nothing base64", "a.b.c"],
    ["three empty parts", ".."],
    ["two parts", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOjF9"],
    ["truncated JSON parts", "eyJ.eyJ.sig"],
    [
      "an unparsable header and payload",
      `${Buffer.from("{").toString("base64url")}.${Buffer.from("{").toString("base64url")}.x`,
    ],
    [
      "300 bytes of latin1 noise",
      Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)).toString("latin1"),
    ],
    ["control characters", "\u0000\u0001\u0002"],
    ["emoji parts", "🦀.🦀.🦀"],
  ])("a garbage subject token (%s): 400 invalid_request", async (_, subject) => {
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: subject, audience: "docs", scope: "docs.read" },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
  });

  it("a binary garbage body", async () => {
    const before = issuedCount(broker);
    const bytes = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 131 + 7) % 256));
    const res = await rawPost(
      broker.url,
      "/token",
      { ...formHeaders(), "content-length": bytes.length },
      bytes,
    );
    // The bytes name no grant_type: the authenticated client gets invalid_request.
    expectRawRefused(broker, before, res, 400, "invalid_request");
  });

  it("a broken Basic header", async () => {
    const user = await broker.devToken(USER);
    const form = {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: user,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "docs",
      scope: "docs.read",
    };
    const send = (authorization: string) =>
      postForm(broker, "/token", form, undefined, { authorization });
    // No colon after decoding: malformed.
    await expectRefused(broker, send("Basic !!!not*base64***"), 400, "invalid_request");
    await expectRefused(
      broker,
      send(`Basic ${Buffer.from("orchestrator").toString("base64")}`),
      400,
      "invalid_request",
    );
    // A broken percent-escape (RFC 6749 §2.3.1 form-encoding).
    await expectRefused(
      broker,
      send(`Basic ${Buffer.from("orchestrator:%E0%A4%A").toString("base64")}`),
      400,
      "invalid_request",
    );
    await expectRefused(
      broker,
      send(`Basic ${Buffer.from("%zz:secret").toString("base64")}`),
      400,
      "invalid_request",
    );
    // Decodes, but names no one we know.
    const { res } = await expectRefused(
      broker,
      send(`Basic ${Buffer.from(":").toString("base64")}`),
      401,
      "invalid_client",
    );
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("non-UTF-8 bytes in the body and in the Basic header", async () => {
    const user = await broker.devToken(USER);
    let before = issuedCount(broker);
    const body = Buffer.concat([
      Buffer.from(
        `grant_type=${encodeURIComponent(TOKEN_EXCHANGE_GRANT)}&subject_token_type=${encodeURIComponent(TOKEN_TYPE.jwt)}&audience=docs&scope=docs.read&subject_token=`,
      ),
      Buffer.from(user.slice(0, 20)),
      Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]),
      Buffer.from(user.slice(20)),
    ]);
    let res = await rawPost(
      broker.url,
      "/token",
      { ...formHeaders(), "content-length": body.length },
      body,
    );
    expectRawRefused(broker, before, res, 400, "invalid_request");

    // Percent-encoded invalid UTF-8 in the scope.
    before = issuedCount(broker);
    const scoped = Buffer.from(
      `grant_type=${encodeURIComponent(TOKEN_EXCHANGE_GRANT)}&subject_token_type=${encodeURIComponent(TOKEN_TYPE.jwt)}&audience=docs&scope=docs.read%FF%FE&subject_token=${user}`,
    );
    res = await rawPost(
      broker.url,
      "/token",
      { ...formHeaders(), "content-length": scoped.length },
      scoped,
    );
    expectRawRefused(broker, before, res, 400, "invalid_request");

    // A Basic header whose decoded bytes are not UTF-8: names no known client.
    before = issuedCount(broker);
    const badAuth = `Basic ${Buffer.from([0xff, 0x3a, 0xfe, 0xfd]).toString("base64")}`;
    const ok = Buffer.from(
      `grant_type=${encodeURIComponent(TOKEN_EXCHANGE_GRANT)}&subject_token=${user}`,
    );
    res = await rawPost(
      broker.url,
      "/token",
      {
        "content-type": "application/x-www-form-urlencoded",
        authorization: badAuth,
        "content-length": ok.length,
      },
      ok,
    );
    expectRawRefused(broker, before, res, 401, "invalid_client");
  });

  it("a JSON body instead of a form", async () => {
    const user = await broker.devToken(USER);
    const json = JSON.stringify({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: user,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: "docs",
      scope: "docs.read",
    });
    const res = fetch(`${broker.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: auth() },
      body: json,
    });
    await expectRefused(broker, res, 400, "invalid_request");
    // No content type at all.
    const before = issuedCount(broker);
    const raw = await rawPost(
      broker.url,
      "/token",
      { authorization: auth(), "content-length": Buffer.byteLength(json) },
      Buffer.from(json),
    );
    expectRawRefused(broker, before, raw, 400, "invalid_request");
    // Multipart form data is not a form-urlencoded body either.
    const multipart = new FormData();
    multipart.set("grant_type", TOKEN_EXCHANGE_GRANT);
    multipart.set("subject_token", user);
    await expectRefused(
      broker,
      fetch(`${broker.url}/token`, {
        method: "POST",
        headers: { authorization: auth() },
        body: multipart,
      }),
      400,
      "invalid_request",
    );
  });

  it("an empty body", async () => {
    const empty = (headers: Record<string, string>) =>
      fetch(`${broker.url}/token`, { method: "POST", headers, body: "" });
    await expectRefused(broker, empty(formHeaders()), 400, "invalid_request");
    // Unauthenticated: client authentication is checked first.
    await expectRefused(
      broker,
      empty({ "content-type": "application/x-www-form-urlencoded" }),
      401,
      "invalid_client",
    );
  });

  it.each([
    ["the same", Array.from({ length: 1000 }, () => "docs")],
    ["distinct", Array.from({ length: 1000 }, (_, i) => `api-${i}`)],
  ])("1000 audience values, all %s: 400 invalid_request", async (_, audience) => {
    const user = await broker.devToken(USER);
    await expectRefused(
      broker,
      exchange(broker, { subject_token: user, scope: "docs.read", audience }, "orchestrator"),
      400,
      "invalid_request",
    );
  });

  /** Each case's form, given the user's token; the code it must be refused with. */
  const base = (user: string): Form => ({
    subject_token: user,
    audience: "docs",
    scope: "docs.read",
  });
  it.each<[string, (user: string) => Form, string]>([
    [
      "subject_token twice",
      (user) => ({ ...base(user), subject_token: [user, user] }),
      "invalid_request",
    ],
    [
      "scope twice",
      (user) => ({ ...base(user), scope: ["docs.read", "docs.read"] }),
      "invalid_request",
    ],
    [
      "grant_type twice",
      (user) => ({ ...base(user), grant_type: [TOKEN_EXCHANGE_GRANT, TOKEN_EXCHANGE_GRANT] }),
      "invalid_request",
    ],
    [
      "subject_token_type twice",
      (user) => ({ ...base(user), subject_token_type: [TOKEN_TYPE.jwt, TOKEN_TYPE.jwt] }),
      "invalid_request",
    ],
    ["no subject_token", () => ({ audience: "docs", scope: "docs.read" }), "invalid_request"],
    [
      "an empty subject_token_type",
      (user) => ({ ...base(user), subject_token_type: "" }),
      "invalid_request",
    ],
    [
      "grant_type client_credentials",
      (user) => ({ ...base(user), grant_type: "client_credentials" }),
      "unsupported_grant_type",
    ],
    ["an empty grant_type", (user) => ({ ...base(user), grant_type: "" }), "invalid_request"],
    [
      "actor_token without its type",
      (user) => ({ ...base(user), actor_token: user }),
      "invalid_request",
    ],
    [
      "actor_token_type without a token",
      (user) => ({ ...base(user), actor_token_type: TOKEN_TYPE.jwt }),
      "invalid_request",
    ],
    [
      "a refresh token requested",
      (user) => ({ ...base(user), requested_token_type: TOKEN_TYPE.refreshToken }),
      "invalid_request",
    ],
    ["ttl_seconds 0", (user) => ({ ...base(user), ttl_seconds: "0" }), "invalid_request"],
    [
      "a negative ttl_seconds",
      (user) => ({ ...base(user), ttl_seconds: "-60" }),
      "invalid_request",
    ],
    [
      "ttl_seconds in exponent form",
      (user) => ({ ...base(user), ttl_seconds: "1e3" }),
      "invalid_request",
    ],
    [
      "a huge ttl_seconds",
      (user) => ({ ...base(user), ttl_seconds: "99999999999" }),
      "invalid_request",
    ],
    [
      "two spaces between scopes",
      (user) => ({ ...base(user), scope: "docs.read  docs.write" }),
      "invalid_request",
    ],
    [
      "a quote in scope",
      (user) => ({ ...base(user), scope: 'docs.read "docs.write"' }),
      "invalid_request",
    ],
    [
      "a backslash in scope",
      (user) => ({ ...base(user), scope: "docs.read\\" }),
      "invalid_request",
    ],
    [
      "a 5000-character scope",
      (user) => ({ ...base(user), scope: "x".repeat(5000) }),
      "invalid_request",
    ],
    // RFC 8707 §2: a resource that is not an absolute URI, or has a fragment, is invalid_target.
    [
      "a resource that is not an absolute URI",
      (user) => ({ subject_token: user, scope: "docs.read", resource: "docs" }),
      "invalid_target",
    ],
    [
      "a resource with a fragment",
      (user) => ({
        subject_token: user,
        scope: "docs.read",
        resource: "https://docs.example.com/api#frag",
      }),
      "invalid_target",
    ],
  ])("repeated, missing or ill-formed parameters: %s: 400 %s", async (_, form, code) => {
    const user = await broker.devToken(USER);
    await expectRefused(broker, exchange(broker, form(user), "orchestrator"), 400, code);
  });
});

describe("replay", () => {
  /** A private_key_jwt assertion for the researcher (RFC 7523 §3). */
  const assertion = (aud: string) =>
    new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: "EdDSA", kid: "researcher-1" })
      .setIssuer("researcher")
      .setSubject("researcher")
      .setAudience(aud)
      .setIssuedAt(broker.clock.now())
      .setExpirationTime(broker.clock.now() + 120)
      .sign(broker.researcherKey.privateKey);

  const withAssertion = (form: Form, jwt: string): Form => ({
    ...form,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: jwt,
  });

  it("a client assertion used twice", async () => {
    const user = await broker.devToken(USER);
    const jwt = await assertion(broker.issuer);
    const form = withAssertion({ subject_token: user, audience: "docs", scope: "docs.read" }, jwt);
    await expectIssued(broker, exchange(broker, form));
    const { res } = await expectRefused(broker, exchange(broker, form), 401, "invalid_client");
    expect(res.headers.get("www-authenticate")).toBeNull();
  });

  it("a client assertion used at /introspect, then replayed at /token", async () => {
    const user = await broker.devToken(USER);
    const jwt = await assertion(`${broker.issuer}/introspect`);
    const first = await postForm(broker, "/introspect", withAssertion({ token: user }, jwt));
    expect(first.status).toBe(200);
    // The audience list accepts any of the broker's endpoints, so only the jti stops this.
    await expectRefused(
      broker,
      exchange(
        broker,
        withAssertion({ subject_token: user, audience: "docs", scope: "docs.read" }, jwt),
      ),
      401,
      "invalid_client",
    );
  });

  it("a revoked delegation token, replayed", async () => {
    const d = await delegate(
      "orchestrator",
      await broker.devToken(USER),
      "flight-booker",
      "flights.search",
    );
    const revoked = await postForm(broker, "/revoke", { token: d }, "orchestrator");
    expect(revoked.status).toBe(200);
    await expectRefused(
      broker,
      exchange(
        broker,
        { subject_token: d, audience: "flights", scope: "flights.search" },
        "flight-booker",
      ),
      400,
      "invalid_request",
    );
  });
});
