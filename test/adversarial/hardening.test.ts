/**
 * Issue 14: the holes a held-out adversarial run found, each closed and kept closed. Every
 * refusal asserts the exact status, the error code and that nothing was issued (expectRefused);
 * every group starts from a control that the same request, made honestly, succeeds.
 *
 * Real HTTP on loopback against startTestBroker (memory store, fixed clock).
 */

import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideApproval } from "../../src/exchange/operations/decide-approval.js";
import { issueDevToken } from "../../src/exchange/operations/issue-dev-token.js";
import { ALICE, expectPending, getPage, signIn } from "../helpers/approvals.js";
import {
  type AgentCredentials,
  exchange,
  expectIssued,
  expectRefused,
  type Form,
  postForm,
} from "../helpers/assertions.js";
import { startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";
import { sha256Hex } from "../helpers/policy.js";

/** A second agent allowed to impersonate, with its own credentials. */
const SECOND: AgentCredentials = { id: "impersonator-2", secret: "impersonator-2-test-secret" };

/** docs.write needs the user's approval; two impersonating agents may both ask for it. */
function editPolicy(data: Record<string, any>): void {
  data.apis.docs.scopes["docs.write"] = { description: "Write documents", approval: "subject" };
  data.agents.impersonator.scopes.push("docs.write");
  data.agents[SECOND.id] = {
    description: "Another service allowed to act as the user",
    secret_sha256: sha256Hex(SECOND.secret),
    scopes: ["docs.read", "docs.write"],
    impersonate: true,
  };
}

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({ editPolicy });
});
afterAll(() => broker.close());

const now = () => broker.clock.now();

/** A user token from the trusted issuer, honest unless `claims` say otherwise. */
const idpUser = (claims: Record<string, unknown> = {}) =>
  broker.idpToken({
    sub: ALICE,
    jti: randomUUID(),
    scope: "docs.read flights.search calendar.read",
    ...claims,
  });

/** The audit rule of the last refusal: the refusal below is the one under test, not another. */
const lastRule = () => {
  const denied = broker.events.findLast((e) => e.type === "exchange.denied");
  return denied && "rule" in denied ? denied.rule : undefined;
};

/** A refusal (exact status, code, nothing issued) for exactly this cause. */
async function refusedFor(
  rule: string,
  response: Promise<Response>,
  code = "invalid_request",
): Promise<void> {
  await expectRefused(broker, response, 400, code);
  expect(lastRule()).toBe(rule);
}

const docsRead = (subject: string, extra: Form = {}): Form => ({
  subject_token: subject,
  audience: "docs",
  scope: "docs.read",
  ...extra,
});

// ---------------------------------------------------------------------------------------------

describe("an approval belongs to the client that asked for it (rule 6)", () => {
  const docsWrite = (subject: string, extra: Form = {}): Form => ({
    subject_token: subject,
    audience: "docs",
    scope: "docs.write",
    ...extra,
  });

  it("two impersonating agents, one user: the second cannot redeem, see or learn of the first's approval", async () => {
    const alice = await broker.devToken(ALICE);
    const { approval_id } = await expectPending(
      broker,
      exchange(broker, docsWrite(alice), "impersonator"),
    );
    await decideApproval(broker.deps, approval_id, "approved", { person: ALICE }, "web");

    // What an unknown approval id looks like, to compare with: no oracle.
    const unknown = `apr_${randomUUID().replaceAll("-", "").slice(0, 22)}`;
    const asUnknown = await expectRefused(
      broker,
      exchange(broker, docsWrite(alice, { approval_id: unknown }), SECOND),
      400,
      "invalid_request",
    );
    const stolen = await expectRefused(
      broker,
      exchange(broker, docsWrite(alice, { approval_id }), SECOND),
      400,
      "invalid_request",
    );
    expect(stolen.body).toEqual(asUnknown.body);

    // approval_status: the owner sees it (under impersonation its chain is empty); the other
    // agent gets exactly the unknown answer.
    const status = (id: string, agent: string | AgentCredentials) =>
      postForm(broker, `/approvals/${id}/status`, {}, agent);
    const own = await status(approval_id, "impersonator");
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ status: "approved", client: "impersonator" });
    const other = await status(approval_id, SECOND);
    const none = await status(unknown, SECOND);
    expect({ status: other.status, body: await other.text() }).toEqual({
      status: none.status,
      body: await none.text(),
    });
    expect(other.status).toBe(400);

    // The owner redeems it, once: the second agent's attempt did not use it up.
    const { claims } = await expectIssued(
      broker,
      exchange(broker, docsWrite(alice, { approval_id }), "impersonator"),
    );
    expect(claims).toMatchObject({ client_id: "impersonator", scope: "docs.write" });
    expect(claims.act).toBeUndefined();
  });

  it("two agents that act with act, one user: the second cannot redeem the first's approval", async () => {
    const alice = await broker.devToken(ALICE);
    const book = (extra: Form = {}): Form => ({
      subject_token: alice,
      audience: "flights",
      scope: "flights.book",
      ...extra,
    });
    const { approval_id } = await expectPending(broker, exchange(broker, book(), "orchestrator"));
    await decideApproval(broker.deps, approval_id, "approved", { operator: true }, "cli");
    await expectRefused(
      broker,
      exchange(broker, book({ approval_id }), "flight-booker"),
      400,
      "invalid_request",
    );
    const { claims } = await expectIssued(
      broker,
      exchange(broker, book({ approval_id }), "orchestrator"),
    );
    expect(claims.act).toEqual({ sub: "orchestrator" });
  });

  it("the approval page names the client that asked, also under impersonation", async () => {
    const alice = await broker.devToken(ALICE);
    const { approval_id } = await expectPending(
      broker,
      exchange(broker, docsWrite(alice, { ttl_seconds: "120" }), SECOND),
    );
    const session = await signIn(broker, ALICE);
    const page = await getPage(broker, `/approvals/${approval_id}`, session);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`<code>${SECOND.id}</code>`);
    expect(page.html).toContain("impersonation");
  });
});

// ---------------------------------------------------------------------------------------------

describe("time claims: one rule everywhere (broker.clock_skew, max_token_lifetime)", () => {
  it("a control: a subject token issued within the skew, living a day less a minute, is accepted", async () => {
    const token = await idpUser({ iat: now() + 25, exp: now() + 86_340 });
    await expectIssued(broker, exchange(broker, docsRead(token), "orchestrator"));
  });

  it.each([3600, 31])(
    "a subject token issued %ss in the future, beyond the skew, is refused",
    async (ahead) => {
      await refusedFor(
        "subject.claim.iat",
        exchange(broker, docsRead(await idpUser({ iat: now() + ahead })), "orchestrator"),
      );
    },
  );

  it.each<[string, () => Record<string, unknown>, string]>([
    ["without iat", () => ({ iat: undefined }), "subject.claim.iat"],
    [
      "whose exp lies a second beyond max_token_lifetime",
      () => ({ exp: now() + 86_401 }),
      "subject.lifetime",
    ],
    [
      "whose exp is in the year 9999",
      () => ({ exp: Date.UTC(9999, 11, 31) / 1000 }),
      "subject.lifetime",
    ],
  ])("a subject token %s is refused (%s)", async (_, claims, rule) => {
    await refusedFor(rule, exchange(broker, docsRead(await idpUser(claims())), "orchestrator"));
  });

  it("both limits come from policy", async () => {
    const within = await idpUser({ iat: now() + 10, exp: now() + 1800 });
    await expectIssued(broker, exchange(broker, docsRead(within), "orchestrator"));
    broker.reloadWith((data) => {
      data.broker.clock_skew = "5s";
      data.issuers[0].max_token_lifetime = "20m";
    });
    try {
      await refusedFor(
        "subject.claim.iat",
        exchange(broker, docsRead(await idpUser({ iat: now() + 10 })), "orchestrator"),
      );
      await refusedFor(
        "subject.lifetime",
        exchange(broker, docsRead(await idpUser({ exp: now() + 1800 })), "orchestrator"),
      );
    } finally {
      broker.reloadWith(() => {});
    }
  });

  /** A private_key_jwt client assertion for the researcher (RFC 7523 §3). */
  const assertion = (iat: number) =>
    new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: "EdDSA", kid: "researcher-1" })
      .setIssuer("researcher")
      .setSubject("researcher")
      .setAudience(broker.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(now() + 300)
      .sign(broker.researcherKey.privateKey);
  const withAssertion = async (iat: number) =>
    exchange(broker, {
      ...docsRead(await broker.devToken(ALICE)),
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await assertion(iat),
    });

  it("a private_key_jwt client assertion issued in the future is refused (401 invalid_client)", async () => {
    await expectIssued(broker, withAssertion(now() + 10));
    await expectRefused(broker, withAssertion(now() + 120), 401, "invalid_client");
  });

  it("an actor token issued in the future is refused", async () => {
    const actor = await selfSignedActor({ iat: now() + 120 });
    await refusedFor(
      "actor.claim.iat",
      exchange(broker, withActor(await broker.devToken(ALICE), actor), "researcher"),
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** An actor token the researcher signs itself (its policy `jwks`). */
function selfSignedActor(claims: Record<string, unknown> = {}) {
  return new SignJWT({
    iss: "researcher",
    sub: "researcher",
    aud: broker.issuer,
    iat: now(),
    exp: now() + 60,
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: "EdDSA", kid: "researcher-1" })
    .sign(broker.researcherKey.privateKey);
}

const withActor = (subject: string, actor: string): Form =>
  docsRead(subject, { actor_token: actor, actor_token_type: TOKEN_TYPE.jwt });

describe("actor tokens are single-use", () => {
  it("a self-signed actor token works once", async () => {
    const alice = await broker.devToken(ALICE);
    const actor = await selfSignedActor();
    await expectIssued(broker, exchange(broker, withActor(alice, actor), "researcher"));
    await refusedFor("actor.replay", exchange(broker, withActor(alice, actor), "researcher"));
  });

  it("a trusted issuer's actor token works once, and needs a jti", async () => {
    const alice = await broker.devToken(ALICE);
    const actor = await broker.idpToken({ sub: "orchestrator", jti: randomUUID() });
    await expectIssued(broker, exchange(broker, withActor(alice, actor), "orchestrator"));
    await refusedFor("actor.replay", exchange(broker, withActor(alice, actor), "orchestrator"));
    const noJti = await broker.idpToken({ sub: "orchestrator" });
    await refusedFor("actor.jti", exchange(broker, withActor(alice, noJti), "orchestrator"));
  });

  it("a self-signed actor token may live 10 minutes at most, like a client assertion", async () => {
    const actor = await selfSignedActor({ exp: now() + 3600 });
    await refusedFor(
      "actor.lifetime",
      exchange(broker, withActor(await broker.devToken(ALICE), actor), "researcher"),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("no agent passes for a user, and no actor appears twice (rule 4, RFC 9700 §4.15)", () => {
  it.each(["orchestrator", "flight-booker"])(
    "a subject token whose sub is an agent id is refused, whoever exchanges it (%s)",
    async (agent) => {
      const token = await idpUser({ sub: "orchestrator" });
      await refusedFor("subject.agent_sub", exchange(broker, docsRead(token), agent));
    },
  );

  it("an approver whose id is an agent's never decides, even when a group lists it", async () => {
    broker.reloadWith((data) => {
      data.apis.docs.scopes["docs.write"] = { description: "Write documents", approval: "ops" };
      data.approvers = { ops: ["orchestrator", "carol@example.com"] };
    });
    try {
      const alice = await broker.devToken(ALICE);
      const { approval_id } = await expectPending(
        broker,
        exchange(broker, docsRead(alice, { scope: "docs.write" }), "impersonator"),
      );
      await expect(
        decideApproval(broker.deps, approval_id, "approved", { person: "orchestrator" }, "web"),
      ).rejects.toMatchObject({ code: "access_denied", status: 403 });
      const decided = await decideApproval(
        broker.deps,
        approval_id,
        "approved",
        { person: "carol@example.com" },
        "web",
      );
      expect(decided.state).toBe("approved");
    } finally {
      broker.reloadWith(() => {});
    }
  });

  it("the development issuer mints no token for an agent id", async () => {
    await expect(
      issueDevToken(broker.deps, { user: "orchestrator", ttl: 300 }),
    ).rejects.toMatchObject({ code: "invalid_request", rule: "dev_issuer.agent_user" });
  });

  it("a control: an inherited act that names each actor once is kept", async () => {
    const once = await idpUser({ act: { sub: "upstream" } });
    const { chain } = await expectIssued(broker, exchange(broker, docsRead(once), "orchestrator"));
    expect(chain).toEqual(["orchestrator", "upstream"]);
  });

  it.each([
    ["twice in a row", { sub: "upstream", act: { sub: "upstream" } }],
    ["around another actor", { sub: "x", act: { sub: "researcher", act: { sub: "x" } } }],
  ])("an inherited act that names an actor twice (%s) is a cycle", async (_, act) => {
    await refusedFor(
      "chain.cycle",
      exchange(broker, docsRead(await idpUser({ act })), "orchestrator"),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("exact target matching (RFC 8707 §2)", () => {
  const calendar = (resource: string): Form => ({ resource, scope: "calendar.read" });

  const exact = "https://calendar.example.com";

  it("a control: the registry's exact resource is accepted", async () => {
    const alice = await broker.devToken(ALICE);
    await expectIssued(
      broker,
      exchange(broker, { subject_token: alice, ...calendar(exact) }, "orchestrator"),
    );
  });

  it.each([
    ["surrounded by a space and a tab", ` ${exact}\t`, "target.resource_form"],
    ["with a trailing space", `${exact} `, "target.resource_form"],
    ["with a trailing no-break space", `${exact}\u00a0`, "target.resource_form"],
    ["in upper case", "HTTPS://CALENDAR.EXAMPLE.COM", "target.unknown"],
    ["with a capital in the host", "https://Calendar.example.com", "target.unknown"],
    ["with a trailing slash", `${exact}/`, "target.unknown"],
  ])(
    "resource is compared byte for byte: no trimming, no case folding (%j, %s)",
    async (_, resource, rule) => {
      const alice = await broker.devToken(ALICE);
      await refusedFor(
        rule,
        exchange(broker, { subject_token: alice, ...calendar(resource) }, "orchestrator"),
        "invalid_target",
      );
    },
  );

  it.each(["calendar", "//calendar.example.com", "https://calendar.example.com#x"])(
    "a resource that is not an absolute URI, or has a fragment (%s), is invalid_target",
    async (resource) => {
      const alice = await broker.devToken(ALICE);
      await refusedFor(
        "target.resource_form",
        exchange(broker, { subject_token: alice, ...calendar(resource) }, "orchestrator"),
        "invalid_target",
      );
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe("the policy in force governs every link of a chain (rules 1 and 5)", () => {
  /** user → orchestrator → flight-booker → researcher, each hop a delegation token. */
  async function chainToResearcher(scope = "flights.search") {
    const alice = await broker.devToken(ALICE);
    const toBooker = await expectIssued(
      broker,
      exchange(
        broker,
        {
          subject_token: alice,
          requested_token_type: TOKEN_TYPE.jwt,
          audience: "flight-booker",
          scope,
        },
        "orchestrator",
      ),
    );
    const toResearcher = await expectIssued(
      broker,
      exchange(
        broker,
        {
          subject_token: toBooker.token,
          requested_token_type: TOKEN_TYPE.jwt,
          audience: "researcher",
          scope,
        },
        "flight-booker",
      ),
    );
    return { toBooker: toBooker.token, toResearcher: toResearcher.token };
  }
  const search = (subject: string): Form => ({
    subject_token: subject,
    audience: "flights",
    scope: "flights.search",
  });

  it("an edge removed above the holder's own delegator cuts the chain off", async () => {
    const { toResearcher } = await chainToResearcher();
    const control = await expectIssued(
      broker,
      exchange(broker, search(toResearcher), "researcher"),
    );
    expect(control.chain).toEqual(["researcher", "flight-booker", "orchestrator"]);
    broker.reloadWith((data) => {
      data.agents.orchestrator.delegate_to = ["researcher"];
    });
    try {
      await refusedFor(
        "subject.delegation_edge",
        exchange(broker, search(toResearcher), "researcher"),
      );
    } finally {
      broker.reloadWith(() => {});
    }
    await expectIssued(broker, exchange(broker, search(toResearcher), "researcher"));
  });

  it("a scope a delegator has lost can no longer be redeemed below it", async () => {
    const { toBooker, toResearcher } = await chainToResearcher();
    broker.reloadWith((data) => {
      data.agents.orchestrator.scopes = data.agents.orchestrator.scopes.filter(
        (s: string) => s !== "flights.search",
      );
    });
    try {
      await refusedFor(
        "narrow.scope.delegator",
        exchange(broker, search(toBooker), "flight-booker"),
        "invalid_scope",
      );
      await refusedFor(
        "narrow.scope.delegator",
        exchange(broker, search(toResearcher), "researcher"),
        "invalid_scope",
      );
    } finally {
      broker.reloadWith(() => {});
    }
  });

  it("a delegator since disabled cuts off what it delegated", async () => {
    const { toResearcher } = await chainToResearcher();
    broker.reloadWith((data) => {
      data.agents.orchestrator.disabled = true;
    });
    try {
      await refusedFor(
        "subject.delegation_edge",
        exchange(broker, search(toResearcher), "researcher"),
      );
    } finally {
      broker.reloadWith(() => {});
    }
  });

  it("actors an outside issuer named stay outside the policy's edges, and the chain is kept", async () => {
    const upstream = await idpUser({ act: { sub: "upstream" }, scope: "flights.search" });
    const toBooker = await expectIssued(
      broker,
      exchange(
        broker,
        {
          subject_token: upstream,
          requested_token_type: TOKEN_TYPE.jwt,
          audience: "flight-booker",
          scope: "flights.search",
        },
        "orchestrator",
      ),
    );
    const { chain } = await expectIssued(
      broker,
      exchange(broker, search(toBooker.token), "flight-booker"),
    );
    expect(chain).toEqual(["flight-booker", "orchestrator", "upstream"]);
  });
});
