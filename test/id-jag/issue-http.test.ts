/**
 * Issue 18 item 1, design §3.4: Baton issues ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant
 * §4.3) at `POST /token` for APIs behind their own authorization server, under every rule of §4
 * as for an access token: narrowing, delegation edges, the task ceiling and budget, approvals,
 * audit and revocation. Each refusal asserts the exact status and code, the rule the audit log
 * records, and that nothing was issued. The real broker over loopback HTTP; time is its clock.
 */

import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideAs, getPage, signIn } from "../helpers/approvals.js";
import {
  exchange,
  expectApprovalPending,
  expectIssued,
  expectRefused,
  type Form,
  type Issued,
} from "../helpers/assertions.js";
import { startTestBroker, T0, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";
import {
  BOOKER_CLIENT,
  CHAT,
  CHAT_AS,
  CHAT_CLIENT,
  FILES,
  SHARED_AS,
  WIKI,
  withOutsideApis,
} from "../helpers/outside-apis.js";
import { endTask, lastDeniedRule, startTask } from "../helpers/tasks.js";

const ALICE = "alice@example.com";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({ editPolicy: (data) => withOutsideApis(data) });
});
afterAll(() => broker.close());

/** An ID-JAG request; `resource` only when given. */
const idJagForm = (subject: string, scope: string, extra: Form = {}): Form => ({
  subject_token: subject,
  requested_token_type: TOKEN_TYPE.idJag,
  audience: CHAT_AS,
  scope,
  ...extra,
});

const user = (agent = "orchestrator", ttl?: number) =>
  broker.devToken(ALICE, { agent, ...(ttl === undefined ? {} : { ttl }) });

async function issue(agent: string, form: Form): Promise<Issued> {
  return expectIssued(broker, exchange(broker, form, agent));
}

/** A refusal: exact status and code, nothing issued, and the rule the audit log names. */
async function refused(agent: string, form: Form, status: number, code: string, rule: string) {
  const { body } = await expectRefused(broker, exchange(broker, form, agent), status, code);
  expect(lastDeniedRule(broker)).toBe(rule);
  return body;
}

async function introspect(token: string, agent: string): Promise<Record<string, unknown>> {
  const res = await broker.post("/introspect", { token }, agent);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("POST /token issues an ID-JAG (design §3.4)", () => {
  it("has the response, header and claims of the draft, signed by Baton's key", async () => {
    const issued = await issue(
      "orchestrator",
      idJagForm(await user(), "chat.read", { resource: CHAT }),
    );
    // RFC 8693 §2.2.1, draft §4.3.2: not an access token, so token_type N_A.
    expect(issued.body).toEqual({
      access_token: issued.token,
      issued_token_type: TOKEN_TYPE.idJag,
      token_type: "N_A",
      expires_in: 300,
      scope: "chat.read",
    });
    const header = decodeProtectedHeader(issued.token);
    expect(header).toEqual({ alg: "EdDSA", typ: "oauth-id-jag+jwt", kid: expect.any(String) });
    const { payload } = await jwtVerify(issued.token, createLocalJWKSet(broker.deps.keys.jwks()), {
      typ: "oauth-id-jag+jwt",
      issuer: broker.issuer,
      audience: CHAT_AS,
      currentDate: new Date(T0 * 1000),
    });
    expect(payload).toEqual({
      iss: broker.issuer,
      sub: ALICE,
      aud: CHAT_AS,
      resource: CHAT,
      client_id: CHAT_CLIENT,
      scope: "chat.read",
      jti: expect.stringMatching(/^[\w-]{22}$/),
      iat: T0,
      exp: T0 + 300,
      act: { sub: "orchestrator" },
      // Its ancestors (lineage.ts): the development token it was issued on.
      lineage: [expect.stringMatching(/^dev:/)],
    });
    expect(broker.events.at(-1)).toMatchObject({
      type: "exchange.issued",
      kind: "id_jag",
      agent: "orchestrator",
      audience: "chat",
      scopes: ["chat.read"],
      jti: payload.jti,
    });
  });

  it("without resource, the one API at that server; with several, resource picks one", async () => {
    const alone = await issue("orchestrator", idJagForm(await user(), "chat.read"));
    expect(alone.claims).toMatchObject({ aud: CHAT_AS, resource: CHAT });
    const files = await issue(
      "orchestrator",
      idJagForm(await user(), "files.read", { audience: SHARED_AS, resource: FILES }),
    );
    expect(files.claims).toMatchObject({
      aud: SHARED_AS,
      resource: FILES,
      client_id: "orchestrator-at-files",
    });
    await refused(
      "orchestrator",
      idJagForm(await user(), "wiki.read", { audience: SHARED_AS }),
      400,
      "invalid_target",
      "target.many",
    );
  });

  it("lives 5 minutes by default, less when asked, never past a cap or its subject", async () => {
    const capped = await issue(
      "orchestrator",
      idJagForm(await user(), "chat.read", { ttl_seconds: "3600" }),
    );
    expect(capped.claims.exp).toBe(T0 + 300); // chat's max_ttl: 5m
    const short = await issue(
      "orchestrator",
      idJagForm(await user(), "chat.read", { ttl_seconds: "60" }),
    );
    expect(short.claims.exp).toBe(T0 + 60);
    const subject = await issue(
      "orchestrator",
      idJagForm(await user("orchestrator", 90), "chat.read"),
    );
    expect(subject.claims.exp).toBe(T0 + 90);
  });

  it("always carries act, even for an agent that may impersonate", async () => {
    const issued = await issue("impersonator", idJagForm(await user("impersonator"), "chat.read"));
    expect(issued.claims.act).toEqual({ sub: "impersonator" });
    expect(issued.claims.client_id).toBe("researcher");
  });
});

describe("the three invalid_target refusals", () => {
  it("an access token for an API behind its own authorization server", async () => {
    const subject = await user();
    const body = await refused(
      "orchestrator",
      { subject_token: subject, audience: "chat", scope: "chat.read" },
      400,
      "invalid_target",
      "target.id_jag_only",
    );
    expect(body.error_description).toContain("ID-JAG");
    // By its resource, by scope alone, and with the server as audience: the same answer.
    const targets: Form[] = [{ resource: CHAT }, {}, { audience: CHAT_AS }];
    for (const target of targets) {
      await refused(
        "orchestrator",
        { subject_token: subject, scope: "chat.read", ...target },
        400,
        "invalid_target",
        "target.id_jag_only",
      );
    }
  });

  it("an ID-JAG for an API without authorization_server", async () => {
    const subject = await user();
    const body = await refused(
      "orchestrator",
      idJagForm(subject, "calendar.read", { resource: "https://calendar.example.com" }),
      400,
      "invalid_target",
      "target.not_id_jag",
    );
    expect(body.error_description).toContain("access token");
    await refused(
      "orchestrator",
      idJagForm(subject, "calendar.read", { audience: "calendar" }),
      400,
      "invalid_target",
      "target.not_id_jag",
    );
  });

  it("an ID-JAG for an agent without a client at that server", async () => {
    await refused(
      "researcher",
      idJagForm(await user("researcher"), "chat.read"),
      400,
      "invalid_target",
      "target.client_id",
    );
  });

  it("an unknown server, a resource not at that server, two targets; no audience at all", async () => {
    const subject = await user();
    const extras: Form[] = [
      { audience: "https://auth.unknown.example/" },
      { resource: WIKI },
      // Byte for byte: the issuer without its trailing slash is another issuer.
      { audience: "https://auth.chat.example" },
    ];
    for (const extra of extras) {
      await refused(
        "orchestrator",
        idJagForm(subject, "chat.read", extra),
        400,
        "invalid_target",
        "target.unknown",
      );
    }
    await refused(
      "orchestrator",
      idJagForm(subject, "chat.read", { audience: [CHAT_AS, SHARED_AS] }),
      400,
      "invalid_target",
      "target.many",
    );
    const { audience: _, ...noAudience } = idJagForm(subject, "chat.read");
    await refused("orchestrator", noAudience, 400, "invalid_request", "request.audience_missing");
  });
});

describe("every rule of an access token holds (design §4)", () => {
  it("rule 1: a scope of another API, of no agent grant, beyond the subject token", async () => {
    await refused(
      "orchestrator",
      idJagForm(await user(), "calendar.read"),
      400,
      "invalid_scope",
      "narrow.scope.api",
    );
    await refused(
      "impersonator",
      idJagForm(await user("impersonator"), "chat.post"),
      400,
      "invalid_scope",
      "narrow.scope.agent",
    );
    const bound = await broker.idpToken({ sub: ALICE, scope: "docs.read" });
    await refused(
      "orchestrator",
      idJagForm(bound, "chat.read", { subject_token_type: TOKEN_TYPE.accessToken }),
      400,
      "invalid_scope",
      "narrow.scope.subject",
    );
  });

  it("rules 4 and 5: a sub-agent's ID-JAG nests the chain, within what it was delegated", async () => {
    const delegation = await issue("orchestrator", {
      subject_token: await user(),
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "chat.read",
    });
    const issued = await issue("flight-booker", idJagForm(delegation.token, "chat.read"));
    expect(issued.claims).toMatchObject({
      sub: ALICE,
      client_id: BOOKER_CLIENT,
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    expect(issued.claims.exp).toBeLessThanOrEqual(delegation.claims.exp as number);
    await refused(
      "flight-booker",
      idJagForm(delegation.token, "chat.post"),
      400,
      "invalid_scope",
      "narrow.scope.agent",
    );
    // The delegation token is the flight-booker's alone (may_act).
    await expectRefused(
      broker,
      exchange(broker, idJagForm(delegation.token, "chat.read"), "orchestrator"),
      400,
      "invalid_request",
    );
  });

  it("a task: txn, its ceiling, its budget; ending it ends the ID-JAG", async () => {
    const subject = await user();
    const task = await startTask(broker, "orchestrator", subject, {
      scope: "chat.read docs.read",
      max_tokens: 1,
    });
    await refused(
      "orchestrator",
      idJagForm(subject, "chat.post", { task_id: task.task_id }),
      400,
      "invalid_scope",
      "narrow.scope.task",
    );
    const issued = await issue(
      "orchestrator",
      idJagForm(subject, "chat.read", { task_id: task.task_id }),
    );
    expect(issued.claims.txn).toBe(task.task_id);
    await refused(
      "orchestrator",
      idJagForm(subject, "chat.read", { task_id: task.task_id }),
      400,
      "invalid_request",
      "task.budget",
    );
    expect(await introspect(issued.token, "orchestrator")).toMatchObject({ active: true });
    expect((await endTask(broker, "orchestrator", task.task_id, subject)).status).toBe(200);
    expect(await introspect(issued.token, "orchestrator")).toEqual({ active: false });
  });

  it("rule 6: an elevated scope waits for the user, then is issued once with approval_id", async () => {
    const subject = await user();
    const form = idJagForm(subject, "chat.post");
    const pending = await expectApprovalPending(broker, exchange(broker, form, "orchestrator"));
    await expectRefused(
      broker,
      exchange(broker, { ...form, approval_id: pending.approval_id }, "orchestrator"),
      400,
      "authorization_pending",
    );
    await decideAs(broker, ALICE, pending.approval_id, "approve");
    const issued = await issue("orchestrator", { ...form, approval_id: pending.approval_id });
    expect(issued.claims).toMatchObject({
      scope: "chat.post",
      aud: CHAT_AS,
      client_id: CHAT_CLIENT,
    });
    await refused(
      "orchestrator",
      { ...form, approval_id: pending.approval_id },
      400,
      "invalid_request",
      "approval.used",
    );
  });

  it("rule 7: introspection and revocation, cascading from the parent", async () => {
    const delegation = await issue("orchestrator", {
      subject_token: await user(),
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "chat.read",
    });
    const idJag = (await issue("flight-booker", idJagForm(delegation.token, "chat.read"))).token;
    expect(await introspect(idJag, "flight-booker")).toEqual({
      active: true,
      iss: broker.issuer,
      sub: ALICE,
      aud: CHAT_AS,
      resource: CHAT,
      client_id: BOOKER_CLIENT,
      scope: "chat.read",
      exp: expect.any(Number),
      iat: T0,
      jti: expect.any(String),
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
      token_type: "N_A",
    });
    // The parent (in the chain) sees it too; an agent outside the chain does not.
    expect(await introspect(idJag, "orchestrator")).toMatchObject({ active: true });
    expect(await introspect(idJag, "researcher")).toEqual({ active: false });
    const revoked = await broker.post("/revoke", { token: delegation.token }, "orchestrator");
    expect(revoked.status).toBe(200);
    expect(await introspect(idJag, "flight-booker")).toEqual({ active: false });
  });

  it("a foreign client_id that spells an agent id gives that agent nothing", async () => {
    // The impersonator's client at chat is called "researcher": a name at chat, not our agent.
    const idJag = (await issue("impersonator", idJagForm(await user("impersonator"), "chat.read")))
      .token;
    expect(await introspect(idJag, "researcher")).toEqual({ active: false });
    const res = await broker.post("/revoke", { token: idJag }, "researcher");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("unauthorized_client");
    expect(await introspect(idJag, "impersonator")).toMatchObject({ active: true });
    expect((await broker.post("/revoke", { token: idJag }, "impersonator")).status).toBe(200);
    expect(await introspect(idJag, "impersonator")).toEqual({ active: false });
  });
});

describe("an ID-JAG is never a subject token (rule 3)", () => {
  it("is refused as subject_token, whatever type it is presented as", async () => {
    const idJag = (await issue("orchestrator", idJagForm(await user(), "chat.read"))).token;
    for (const subject_token_type of [TOKEN_TYPE.jwt, TOKEN_TYPE.accessToken, TOKEN_TYPE.idJag]) {
      await expectRefused(
        broker,
        exchange(
          broker,
          { subject_token: idJag, subject_token_type, audience: "docs", scope: "docs.read" },
          "orchestrator",
        ),
        400,
        "invalid_request",
      );
      await expectRefused(
        broker,
        exchange(broker, idJagForm(idJag, "chat.read", { subject_token_type }), "orchestrator"),
        400,
        "invalid_request",
      );
    }
  });

  it("nor an actor token, nor a bearer token at /mcp", async () => {
    const idJag = (await issue("orchestrator", idJagForm(await user(), "chat.read"))).token;
    await expectRefused(
      broker,
      exchange(
        broker,
        {
          subject_token: await user(),
          actor_token: idJag,
          actor_token_type: TOKEN_TYPE.jwt,
          audience: "docs",
          scope: "docs.read",
        },
        "orchestrator",
      ),
      400,
      "invalid_request",
    );
    expect(lastDeniedRule(broker)).toMatch(/^actor\./);
    const mcp = await fetch(`${broker.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${idJag}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("a delegation token is unchanged: still the jwt type, for the sub-agent", async () => {
    const delegation = await issue("orchestrator", {
      subject_token: await user(),
      requested_token_type: TOKEN_TYPE.jwt,
      audience: "flight-booker",
      scope: "chat.read",
    });
    expect(delegation.body).toMatchObject({ issued_token_type: TOKEN_TYPE.jwt, token_type: "N_A" });
    expect(decodeProtectedHeader(delegation.token).typ).toBe("delegation+jwt");
    expect(delegation.claims).toMatchObject({
      aud: broker.issuer,
      client_id: "orchestrator",
      may_act: { sub: "flight-booker" },
    });
    expect(delegation.claims).not.toHaveProperty("resource");
  });
});

describe("whoami marks the APIs that take ID-JAGs", () => {
  it("with their server, and only for an agent with a client there", async () => {
    const view: any = await (
      await broker.post(
        "/whoami",
        { subject_token: await user(), subject_token_type: TOKEN_TYPE.jwt },
        "orchestrator",
      )
    ).json();
    const chat = view.apis.find((a: { id: string }) => a.id === "chat");
    expect(chat).toMatchObject({
      resource: CHAT,
      authorization_server: CHAT_AS,
      default_ttl_seconds: 300,
      max_ttl_seconds: 300,
    });
    expect(view.apis.find((a: { id: string }) => a.id === "calendar")).not.toHaveProperty(
      "authorization_server",
    );
    const researcher: any = await (
      await broker.post(
        "/whoami",
        { subject_token: await user("researcher"), subject_token_type: TOKEN_TYPE.jwt },
        "researcher",
      )
    ).json();
    expect(researcher.apis.map((a: { id: string }) => a.id)).not.toContain("chat");
  });
});

describe("the task's tree shows an ID-JAG as its own kind", () => {
  it("on the approval page, as a card badged id-jag", async () => {
    const b = await startTestBroker({
      editPolicy: (data) => withOutsideApis(data),
      taskEvents: true,
    });
    try {
      const alice = await b.devToken(ALICE, { agent: "orchestrator" });
      const task = await startTask(b, "orchestrator", alice, { scope: "chat.read" });
      const issued = await expectIssued(
        b,
        exchange(b, idJagForm(alice, "chat.read", { task_id: task.task_id }), "orchestrator"),
      );
      const page = await getPage(b, `/approvals/tasks/${task.task_id}`, await signIn(b, ALICE));
      expect(page.status).toBe(200);
      expect(page.html).toContain(`class="token id_jag active" data-jti="${issued.claims.jti}"`);
      expect(page.html).toContain(">ID-JAG<");
    } finally {
      await b.close();
    }
  });
});
