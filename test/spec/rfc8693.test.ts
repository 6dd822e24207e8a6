/**
 * Spec-keyed tests of POST /token: RFC 8693 §2.1, §2.2.1, §2.2.2, §4.1, §4.4 and the rules of
 * design §4 (1–5, 7–9). Real HTTP over loopback against a real broker; nothing is mocked.
 *
 * Every refusal asserts the status, the error code, `Cache-Control: no-store`, and that nothing
 * was issued: no `access_token` in the body and no new `exchange.issued` audit event.
 */

import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

type Form = Record<string, string | string[]>;

interface TokenResponse {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

interface ErrorResponse {
  error: string;
  error_description: string;
}

const USER = "alice@example.com";
const CALENDAR = "https://calendar.example.com";
const FLIGHTS = "https://flights.example.com";
const DOCS = "https://docs.example.com/api";
/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const DESCRIPTION_CHARSET = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

let broker: TestBroker;
/** Every token and client secret this file sends or receives (rule 9: none may leak). */
const sensitive = new Set<string>();

beforeAll(async () => {
  broker = await startTestBroker();
  for (const secret of Object.values(broker.secrets)) sensitive.add(secret);
});
afterAll(() => broker.close());

/** POSTs a form to /token as `agent` (client_secret_basic), exactly as given. */
function postToken(form: Form, agent = "orchestrator", b = broker): Promise<Response> {
  for (const name of ["subject_token", "actor_token", "client_secret"]) {
    for (const value of [form[name] ?? []].flat()) if (value.length > 16) sensitive.add(value);
  }
  return b.post("/token", form, agent);
}

/** A token exchange request: the grant type filled in. */
function exchange(form: Form, agent = "orchestrator", b = broker): Promise<Response> {
  return postToken({ grant_type: TOKEN_EXCHANGE_GRANT, ...form }, agent, b);
}

/** Exchanges and expects a token. */
async function issue(form: Form, agent = "orchestrator", b = broker): Promise<TokenResponse> {
  const res = await exchange(form, agent, b);
  const body = (await res.json()) as TokenResponse;
  expect(res.status, JSON.stringify(body)).toBe(200);
  sensitive.add(body.access_token);
  return body;
}

/** A development-issuer subject token for the user. */
async function userToken(
  options: { agent?: string; scopes?: string[]; ttl?: number } = {},
  b = broker,
): Promise<string> {
  const token = await b.devToken(USER, options);
  sensitive.add(token);
  return token;
}

/** An access token request for `subject`. */
const access = (subject: string, extra: Form = {}): Form => ({
  subject_token: subject,
  subject_token_type: TOKEN_TYPE.jwt,
  ...extra,
});

/** A delegation token request from the caller to the sub-agent `to`. */
const delegation = (subject: string, to: string, scope: string, extra: Form = {}): Form => ({
  subject_token: subject,
  subject_token_type: TOKEN_TYPE.jwt,
  requested_token_type: TOKEN_TYPE.jwt,
  audience: to,
  scope,
  ...extra,
});

const issuedCount = (b: TestBroker) => b.events.filter((e) => e.type === "exchange.issued").length;

/**
 * Sends a request that must be refused and checks the refusal in full; `rule` is the audited
 * reason of an `exchange.denied` event, when given. Returns the error body.
 */
async function refused(
  send: () => Promise<Response>,
  status: number,
  error: string,
  options: { rule?: string; broker?: TestBroker } = {},
): Promise<ErrorResponse> {
  const b = options.broker ?? broker;
  const mark = b.events.length;
  const issuedBefore = issuedCount(b);
  const res = await send();
  const body = (await res.json()) as ErrorResponse & Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error).toBe(error);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(body).not.toHaveProperty("access_token");
  expect(body.error_description).toMatch(DESCRIPTION_CHARSET);
  for (const value of sensitive) expect(JSON.stringify(body)).not.toContain(value);
  expect(issuedCount(b)).toBe(issuedBefore);
  if (options.rule !== undefined) {
    expect(b.events.slice(mark)).toContainEqual(
      expect.objectContaining({ type: "exchange.denied", error, rule: options.rule }),
    );
  }
  return body;
}

/** The claims of an issued token (decoded only: the signature is RFC 9068's test). */
const claimsOf = (token: string) => decodeJwt(token);

describe("RFC 8693 §2.1 request parameters", () => {
  it("rfc8693 §2.1: grant_type is required", async () => {
    const subject = await userToken();
    await refused(
      () => postToken(access(subject, { audience: "calendar" })),
      400,
      "invalid_request",
      { rule: "request.malformed" },
    );
  });

  it.each(["client_credentials", "authorization_code", "urn:example:grant"])(
    "rfc8693 §2.1: a grant type other than token exchange (%s) is unsupported_grant_type",
    async (grantType) => {
      const subject = await userToken();
      await refused(
        () => exchange(access(subject, { grant_type: grantType, audience: "calendar" })),
        400,
        "unsupported_grant_type",
      );
    },
  );

  it.each<[string, (params: Record<string, string>) => string]>([
    ["application/json", (params) => JSON.stringify(params)],
    ["text/plain", (params) => new URLSearchParams(params).toString()],
    ["multipart/form-data; boundary=x", () => "--x--"],
  ])(
    "rfc8693 §2.1: the body must be application/x-www-form-urlencoded, not %s",
    async (type, bodyOf) => {
      const subject = await userToken();
      const auth = `Basic ${Buffer.from(`orchestrator:${broker.secrets.orchestrator}`).toString("base64")}`;
      const params = {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: subject,
        subject_token_type: TOKEN_TYPE.jwt,
        audience: "calendar",
      };
      await refused(
        () =>
          fetch(`${broker.url}/token`, {
            method: "POST",
            headers: { "content-type": type, authorization: auth },
            body: bodyOf(params),
          }),
        400,
        "invalid_request",
      );
    },
  );

  it("rfc8693 §2.1: subject_token and subject_token_type are required", async () => {
    const subject = await userToken();
    await refused(
      () => exchange({ subject_token_type: TOKEN_TYPE.jwt, audience: "calendar" }),
      400,
      "invalid_request",
    );
    await refused(
      () => exchange({ subject_token: subject, audience: "calendar" }),
      400,
      "invalid_request",
    );
  });

  /** A full request that names every parameter once. */
  const everyParameter = (subject: string): Form => ({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subject,
    subject_token_type: TOKEN_TYPE.jwt,
    actor_token: subject,
    actor_token_type: TOKEN_TYPE.jwt,
    requested_token_type: TOKEN_TYPE.accessToken,
    audience: "calendar",
    scope: "calendar.read",
    ttl_seconds: "60",
    client_id: "orchestrator",
  });

  it.each([
    "grant_type",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "scope",
    "ttl_seconds",
    "client_id",
  ])(
    "rfc8693 §2.1: a non-repeatable parameter sent twice (%s) is invalid_request",
    async (name) => {
      const base = everyParameter(await userToken());
      const value = base[name] as string;
      // Even the same value twice: RFC 6749 §3.2, parameters MUST NOT be included more than once.
      await refused(() => postToken({ ...base, [name]: [value, value] }), 400, "invalid_request");
    },
  );

  it("rfc8693 §2.1: client_secret sent twice is invalid_request", async () => {
    const base = everyParameter(await userToken());
    // client_secret (client_secret_post) repeated: refused before the client is even known.
    await refused(
      () =>
        broker.post("/token", {
          ...base,
          client_secret: [broker.secrets.orchestrator, broker.secrets.orchestrator] as string[],
        }),
      400,
      "invalid_request",
    );
  });

  it("rfc8693 §2.1: resource and audience may repeat when they name one target", async () => {
    const subject = await userToken();
    const forms: Form[] = [
      { resource: [CALENDAR, CALENDAR] },
      { audience: ["calendar", "calendar"] },
      { audience: ["calendar", CALENDAR] },
      { resource: CALENDAR, audience: "calendar" },
    ];
    for (const target of forms) {
      const body = await issue(access(subject, { ...target, scope: "calendar.read" }));
      expect(claimsOf(body.access_token).aud).toBe(CALENDAR);
    }
  });

  it.each<[string, Form]>([
    ["two resources", { resource: [CALENDAR, DOCS] }],
    ["two audiences", { audience: ["calendar", "docs"] }],
    ["a resource and an audience", { resource: CALENDAR, audience: "docs" }],
    ["an audience id and another API's URI", { audience: ["calendar", DOCS] }],
  ])("rfc8693 §2.1: two different targets (%s) are invalid_target", async (_, target) => {
    const subject = await userToken();
    await refused(
      () => exchange(access(subject, { ...target, scope: "calendar.read" })),
      400,
      "invalid_target",
      { rule: "target.many" },
    );
  });

  it("rfc8693 §2.1: two different sub-agents are invalid_target", async () => {
    const subject = await userToken();
    await refused(
      () =>
        exchange(
          delegation(subject, "flight-booker", "flights.search", {
            audience: ["flight-booker", "researcher"],
          }),
        ),
      400,
      "invalid_target",
      { rule: "target.many" },
    );
  });

  it.each(["calendar.example.com", "/calendar", `${CALENDAR}#events`])(
    "rfc8693 §2.1, rfc8707 §2: resource must be an absolute URI without a fragment: %s is invalid_target",
    async (resource) => {
      const subject = await userToken();
      await refused(
        () => exchange(access(subject, { resource, scope: "calendar.read" })),
        400,
        "invalid_target",
      );
    },
  );

  it("rfc8693 §2.1: actor_token_type is required with actor_token", async () => {
    const subject = await userToken();
    await refused(
      () => exchange(access(subject, { audience: "calendar", actor_token: subject })),
      400,
      "invalid_request",
    );
  });

  it("rfc8693 §2.1: actor_token_type must not be sent without actor_token", async () => {
    const subject = await userToken();
    await refused(
      () => exchange(access(subject, { audience: "calendar", actor_token_type: TOKEN_TYPE.jwt })),
      400,
      "invalid_request",
    );
  });

  it.each([TOKEN_TYPE.refreshToken, TOKEN_TYPE.idToken, "urn:example:token-type"])(
    "rfc8693 §2.1: an unknown requested_token_type (%s) is invalid_request",
    async (type) => {
      const subject = await userToken();
      await refused(
        () => exchange(access(subject, { audience: "calendar", requested_token_type: type })),
        400,
        "invalid_request",
      );
    },
  );

  it.each(["urn:example:token-type", TOKEN_TYPE.refreshToken, "jwt"])(
    "rfc8693 §2.1: an unknown or mismatched subject_token_type (%s) is invalid_request",
    async (type) => {
      const subject = await userToken();
      await refused(
        () => exchange(access(subject, { audience: "calendar", subject_token_type: type })),
        400,
        "invalid_request",
        { rule: "subject.type" },
      );
    },
  );

  it("rfc8693 §2.1: a delegation token presented as an access token is invalid_request", async () => {
    const subject = await userToken();
    // A delegation token is a jwt, and must be presented as one.
    const d = await issue(delegation(subject, "flight-booker", "flights.search"));
    await refused(
      () =>
        exchange(
          access(d.access_token, { resource: FLIGHTS, subject_token_type: TOKEN_TYPE.accessToken }),
          "flight-booker",
        ),
      400,
      "invalid_request",
      { rule: "subject.type" },
    );
  });

  it("rfc8693 §2.1: an empty parameter value counts as omitted", async () => {
    const subject = await userToken();
    const body = await issue(
      access(subject, {
        audience: "calendar",
        resource: "",
        scope: "",
        requested_token_type: "",
        actor_token: "",
        actor_token_type: "",
        ttl_seconds: "",
      }),
    );
    // No scope: the API's default_scopes; no type: an access token; no ttl: default_ttl.
    expect(body).toMatchObject({
      scope: "calendar.read",
      issued_token_type: TOKEN_TYPE.accessToken,
      expires_in: broker.policy.broker.defaultTtl,
    });
    await refused(() => exchange(access("", { audience: "calendar" })), 400, "invalid_request");
  });
});

describe("RFC 8693 §2.2.1 successful response", () => {
  it("rfc8693 §2.2.1: an access token answers access_token, issued_token_type, token_type Bearer, expires_in, scope", async () => {
    const subject = await userToken();
    const res = await exchange(
      access(subject, { resource: DOCS, scope: "docs.read docs.write", ttl_seconds: "120" }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as TokenResponse;
    sensitive.add(body.access_token);
    expect(Object.keys(body).sort()).toEqual([
      "access_token",
      "expires_in",
      "issued_token_type",
      "scope",
      "token_type",
    ]);
    expect(body).toMatchObject({
      issued_token_type: TOKEN_TYPE.accessToken,
      token_type: "Bearer",
      expires_in: 120,
      scope: "docs.read docs.write",
    });
    const claims = claimsOf(body.access_token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(body.expires_in);
    expect(claims.scope).toBe(body.scope);
  });

  it("rfc8693 §2.2.1: a delegation token answers issued_token_type jwt and token_type N_A", async () => {
    const subject = await userToken();
    const res = await exchange(delegation(subject, "flight-booker", "flights.search"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as TokenResponse;
    sensitive.add(body.access_token);
    expect(body).toMatchObject({
      issued_token_type: TOKEN_TYPE.jwt,
      token_type: "N_A",
      expires_in: broker.policy.broker.defaultTtl,
      scope: "flights.search",
    });
    expect(body).not.toHaveProperty("refresh_token");
  });
});

describe("RFC 8693 §2.2.2 error response", () => {
  /** A token with the same header and claims as `token`, signed by a key the broker never had. */
  async function forged(token: string): Promise<string> {
    const { privateKey } = await generateKeyPair("EdDSA");
    const header = decodeProtectedHeader(token);
    const jwt = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: "EdDSA", typ: header.typ as string, kid: header.kid as string })
      .sign(privateKey);
    sensitive.add(jwt);
    return jwt;
  }

  it("rfc8693 §2.2.2: an invalid subject token is invalid_request with one fixed description", async () => {
    const badSignature = await forged(await userToken());
    const wrongAudience = await broker.idpToken({
      sub: "mallory@example.com",
      aud: "https://elsewhere.example",
    });
    const untrusted = await broker.idpToken({
      sub: "mallory@example.com",
      iss: "https://evil.example",
    });
    const expired = await userToken({ ttl: 60 });
    sensitive.add(wrongAudience);
    sensitive.add(untrusted);
    broker.clock.advance(61);

    const descriptions = new Set<string>();
    for (const token of [badSignature, expired, wrongAudience, untrusted, "not-a-jwt", "a.b.c"]) {
      const body = await refused(
        () => exchange(access(token, { audience: "calendar" })),
        400,
        "invalid_request",
      );
      descriptions.add(body.error_description);
      // The description never echoes input, nor tells one failure from another.
      expect(body.error_description).not.toContain("mallory");
      expect(body.error_description).not.toMatch(/expired|signature|audience|issuer/i);
    }
    expect(descriptions.size).toBe(1);
  });

  it.each<[string, Form]>([
    ["a resource", { resource: "https://attacker-controlled.example/<script>" }],
    ["an audience", { audience: "attacker-controlled-audience" }],
    ["a scope", { audience: "calendar", scope: "attacker-controlled-scope" }],
    [
      "a requested_token_type",
      { audience: "calendar", requested_token_type: "urn:attacker-controlled" },
    ],
  ])("rfc8693 §2.2.2: descriptions never echo request values (%s)", async (_, probe) => {
    const subject = await userToken();
    const res = await exchange(access(subject, probe));
    const body = (await res.json()) as ErrorResponse;
    expect(res.status).toBe(400);
    expect(body.error_description).not.toContain("attacker-controlled");
    expect(body.error_description).toMatch(DESCRIPTION_CHARSET);
  });
});

describe("RFC 8693 §4.1 act claim", () => {
  it("rfc8693 §4.1: act nests prior actors; the outermost is the current actor", async () => {
    const subject = await userToken();
    const toBooker = await issue(delegation(subject, "flight-booker", "docs.read flights.search"));
    expect(claimsOf(toBooker.access_token).act).toEqual({ sub: "orchestrator" });

    const toResearcher = await issue(
      delegation(toBooker.access_token, "researcher", "docs.read"),
      "flight-booker",
    );
    expect(claimsOf(toResearcher.access_token).act).toEqual({
      sub: "flight-booker",
      act: { sub: "orchestrator" },
    });

    const token = await issue(
      access(toResearcher.access_token, { resource: DOCS, scope: "docs.read" }),
      "researcher",
    );
    const claims = claimsOf(token.access_token);
    expect(claims.sub).toBe(USER);
    expect(claims.act).toEqual({
      sub: "researcher",
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    // The current actor is the client the token was issued to.
    expect(claims.client_id).toBe((claims.act as { sub: string }).sub);
  });

  it("rfc8693 §4.1: only the outermost actor's permissions count", async () => {
    const subject = await userToken();
    const toResearcher = await issue(delegation(subject, "researcher", "docs.read"));
    // The orchestrator (a prior actor) may write documents; the researcher (current) may not.
    await refused(
      () =>
        exchange(
          access(toResearcher.access_token, { resource: DOCS, scope: "docs.write" }),
          "researcher",
        ),
      400,
      "invalid_scope",
    );
  });
});

describe("RFC 8693 §4.4 may_act", () => {
  it("rfc8693 §4.4: a delegation token names its one redeemer in may_act", async () => {
    const subject = await userToken();
    const d = await issue(delegation(subject, "flight-booker", "flights.search"));
    expect(claimsOf(d.access_token).may_act).toEqual({ sub: "flight-booker" });
    await issue(
      access(d.access_token, { resource: FLIGHTS, scope: "flights.search" }),
      "flight-booker",
    );
  });

  it.each(["researcher", "orchestrator"])(
    "rfc8693 §4.4: a delegation token redeemed by another agent than its may_act (%s) is invalid_request",
    async (agent) => {
      const subject = await userToken();
      const d = await issue(delegation(subject, "flight-booker", "flights.search"));
      await refused(
        () =>
          exchange(access(d.access_token, { resource: FLIGHTS, scope: "flights.search" }), agent),
        400,
        "invalid_request",
        { rule: "subject.may_act" },
      );
    },
  );

  it("rfc8693 §4.4: a user token that names its holder (azp) is usable by that agent only", async () => {
    const subject = await userToken({ agent: "flight-booker" });
    await refused(
      () =>
        exchange(access(subject, { resource: FLIGHTS, scope: "flights.search" }), "orchestrator"),
      400,
      "invalid_request",
      { rule: "subject.holder" },
    );
    await issue(access(subject, { resource: FLIGHTS, scope: "flights.search" }), "flight-booker");
  });
});

describe("design §4 rule 1: narrow only", () => {
  it("rule 1: a scope outside the API is invalid_scope", async () => {
    const subject = await userToken();
    await refused(
      () => exchange(access(subject, { resource: CALENDAR, scope: "flights.search" })),
      400,
      "invalid_scope",
      { rule: "narrow.scope.api" },
    );
    await refused(
      () =>
        exchange(access(subject, { resource: CALENDAR, scope: "calendar.read calendar.admin" })),
      400,
      "invalid_scope",
      { rule: "narrow.scope.unknown" },
    );
  });

  it("rule 1: a scope outside the agent is invalid_scope", async () => {
    const subject = await userToken();
    await refused(
      () =>
        exchange(access(subject, { resource: CALENDAR, scope: "calendar.read" }), "flight-booker"),
      400,
      "invalid_scope",
      { rule: "narrow.scope.agent" },
    );
  });

  it("rule 1: a scope outside a dev token's --scope is invalid_scope", async () => {
    const subject = await userToken({ scopes: ["docs.read"] });
    await refused(
      () => exchange(access(subject, { resource: DOCS, scope: "docs.read docs.write" })),
      400,
      "invalid_scope",
      { rule: "narrow.scope.subject" },
    );
    const ok = await issue(access(subject, { resource: DOCS, scope: "docs.read" }));
    expect(ok.scope).toBe("docs.read");
  });

  it("rule 1: a scope outside an outside issuer's token is invalid_scope when scopes_bound", async () => {
    const subject = await broker.idpToken({ sub: USER, scope: "docs.read" });
    sensitive.add(subject);
    await refused(
      () =>
        exchange(
          access(subject, {
            subject_token_type: TOKEN_TYPE.accessToken,
            resource: DOCS,
            scope: "docs.write",
          }),
        ),
      400,
      "invalid_scope",
      { rule: "narrow.scope.subject" },
    );
    await issue(
      access(subject, {
        subject_token_type: TOKEN_TYPE.accessToken,
        resource: DOCS,
        scope: "docs.read",
      }),
    );
  });

  it("rule 1: a scope outside the delegation token is invalid_scope", async () => {
    const subject = await userToken();
    const d = await issue(delegation(subject, "flight-booker", "flights.search"));
    await refused(
      () =>
        exchange(access(d.access_token, { resource: DOCS, scope: "docs.read" }), "flight-booker"),
      400,
      "invalid_scope",
      { rule: "narrow.scope.subject" },
    );
    // Nor can a delegation hand the sub-agent a scope it may not hold.
    await refused(
      () => exchange(delegation(subject, "flight-booker", "calendar.read")),
      400,
      "invalid_scope",
      { rule: "narrow.scope.delegate" },
    );
  });

  it("rule 1: no scope means the API's default_scopes, never the maximum", async () => {
    const subject = await userToken();
    const body = await issue(access(subject, { resource: CALENDAR }));
    expect(body.scope).toBe("calendar.read");
    expect(claimsOf(body.access_token).scope).toBe("calendar.read");
    // An API with no default_scopes yields nothing without a scope.
    await refused(() => exchange(access(subject, { resource: DOCS })), 400, "invalid_scope", {
      rule: "narrow.scope.none",
    });
  });
});

describe("design §4 rule 2: never outlive the parent", () => {
  const expiresIn = async (form: Form, agent = "orchestrator") => {
    const body = await issue(form, agent);
    const claims = claimsOf(body.access_token);
    expect(claims.exp).toBe(broker.clock.now() + body.expires_in);
    return body.expires_in;
  };

  it("rule 2: exp is now + the requested ttl, or default_ttl", async () => {
    const subject = await userToken();
    expect(await expiresIn(access(subject, { resource: DOCS, scope: "docs.read" }))).toBe(300);
    expect(
      await expiresIn(access(subject, { resource: DOCS, scope: "docs.read", ttl_seconds: "120" })),
    ).toBe(120);
  });

  it("rule 2: the API's max_ttl caps it", async () => {
    const subject = await userToken();
    expect(await expiresIn(access(subject, { resource: CALENDAR, ttl_seconds: "3600" }))).toBe(600);
  });

  it("rule 2: the broker's max_ttl caps it", async () => {
    const subject = await userToken({ ttl: 7200 });
    const ttl = await expiresIn(
      access(subject, { resource: FLIGHTS, scope: "flights.search", ttl_seconds: "7200" }),
    );
    expect(ttl).toBe(broker.policy.broker.maxTtl);
  });

  it("rule 2: the subject token's exp caps it", async () => {
    const subject = await userToken({ ttl: 600 });
    broker.clock.advance(500);
    const body = await issue(
      access(subject, { resource: DOCS, scope: "docs.read", ttl_seconds: "300" }),
    );
    expect(body.expires_in).toBe(100);
    expect(claimsOf(body.access_token).exp).toBe(claimsOf(subject).exp);
  });

  it("rule 2: a delegation token's exp caps what the sub-agent gets", async () => {
    const subject = await userToken();
    const d = await issue(
      delegation(subject, "flight-booker", "flights.search", { ttl_seconds: "90" }),
    );
    const body = await issue(
      access(d.access_token, { resource: FLIGHTS, scope: "flights.search", ttl_seconds: "900" }),
      "flight-booker",
    );
    expect(body.expires_in).toBe(90);
    expect(claimsOf(body.access_token).exp).toBe(claimsOf(d.access_token).exp);
  });
});

describe("design §4 rule 3: one audience", () => {
  it("rule 3: the issued aud is the registry's resource, one string", async () => {
    const subject = await userToken();
    const body = await issue(access(subject, { audience: "calendar" }));
    expect(claimsOf(body.access_token).aud).toBe(CALENDAR);
  });

  it("rule 3: an unknown target is invalid_target", async () => {
    const subject = await userToken();
    await refused(
      () =>
        exchange(
          access(subject, { resource: "https://unknown.example.com", scope: "calendar.read" }),
        ),
      400,
      "invalid_target",
      { rule: "target.unknown" },
    );
    await refused(
      () => exchange(access(subject, { audience: "payroll", scope: "calendar.read" })),
      400,
      "invalid_target",
      { rule: "target.unknown" },
    );
  });

  it.each([TOKEN_TYPE.jwt, TOKEN_TYPE.accessToken])(
    "rule 3: an access token Baton issued for an API is never accepted as a subject token (as %s)",
    async (type) => {
      const subject = await userToken();
      const token = await issue(access(subject, { resource: DOCS, scope: "docs.read" }));
      await refused(
        () =>
          exchange(
            access(token.access_token, {
              subject_token_type: type,
              resource: DOCS,
              scope: "docs.read",
            }),
          ),
        400,
        "invalid_request",
      );
    },
  );
});

describe("design §4 rule 4: the chain is kept, never forged or stripped", () => {
  it("rule 4: only an agent with impersonate: true gets a token without act", async () => {
    const subject = await userToken();
    const own = await issue(
      access(subject, { resource: DOCS, scope: "docs.read" }),
      "impersonator",
    );
    expect(claimsOf(own.access_token)).not.toHaveProperty("act");
    expect(claimsOf(own.access_token)).toMatchObject({ sub: USER, client_id: "impersonator" });

    const acting = await issue(
      access(subject, { resource: DOCS, scope: "docs.read" }),
      "orchestrator",
    );
    expect(claimsOf(acting.access_token).act).toEqual({ sub: "orchestrator" });
  });

  it("rule 4: a delegated subject from an outside issuer keeps its chain, even for the impersonator", async () => {
    const subject = await broker.idpToken({
      sub: USER,
      scope: "docs.read",
      act: { sub: "upstream-agent" },
    });
    sensitive.add(subject);
    const body = await issue(
      access(subject, { resource: DOCS, scope: "docs.read" }),
      "impersonator",
    );
    expect(claimsOf(body.access_token).act).toEqual({
      sub: "impersonator",
      act: { sub: "upstream-agent" },
    });
  });

  it("rule 4: a delegation token redeemed by the impersonator keeps act", async () => {
    const b = await startTestBroker({
      editPolicy: (data) => {
        data.agents.orchestrator.delegate_to.push("impersonator");
      },
    });
    try {
      const subject = await userToken({}, b);
      const d = await issue(delegation(subject, "impersonator", "docs.read"), "orchestrator", b);
      const body = await issue(
        access(d.access_token, { resource: DOCS, scope: "docs.read" }),
        "impersonator",
        b,
      );
      expect(claimsOf(body.access_token).act).toEqual({
        sub: "impersonator",
        act: { sub: "orchestrator" },
      });
    } finally {
      await b.close();
    }
  });

  it("rule 4: an agent already in the chain cannot act again", async () => {
    const subject = await userToken();
    const d = await issue(delegation(subject, "researcher", "docs.read"));
    await refused(
      () => exchange(delegation(d.access_token, "orchestrator", "docs.read"), "researcher"),
      400,
      "invalid_request",
      { rule: "chain.cycle" },
    );
  });
});

describe("design §4 rule 5: delegate only along policy edges", () => {
  it.each([
    ["flight-booker", "orchestrator", "flights.search"],
    ["orchestrator", "impersonator", "docs.read"],
    ["orchestrator", "no-such-agent", "docs.read"],
  ])(
    "rule 5: delegation to an agent outside delegate_to (%s → %s) is invalid_target",
    async (from, to, scope) => {
      const subject = await userToken();
      await refused(() => exchange(delegation(subject, to, scope), from), 400, "invalid_target", {
        rule: "delegate.edge",
      });
    },
  );

  it("rule 5: a delegation request names its sub-agent in audience, never a resource", async () => {
    const subject = await userToken();
    await refused(
      () =>
        exchange(
          delegation(subject, "flight-booker", "flights.search", {
            audience: "",
            resource: FLIGHTS,
          }),
        ),
      400,
      "invalid_target",
    );
    await refused(
      () => exchange(delegation(subject, "flight-booker", "flights.search", { audience: "" })),
      400,
      "invalid_request",
    );
  });
});

describe("design §4 rules on clients and approvals", () => {
  it("§3.6: a disabled agent is unauthorized_client", async () => {
    const subject = await userToken();
    await refused(
      () => exchange(access(subject, { resource: DOCS, scope: "docs.read" }), "retired"),
      400,
      "unauthorized_client",
      { rule: "client.disabled" },
    );
  });

  it("§3.6: failed client authentication is 401 invalid_client", async () => {
    const subject = await userToken();
    const form = access(subject, { resource: DOCS, scope: "docs.read" });
    let challenge: string | null = null;
    await refused(
      async () => {
        const res = await exchange(form, "no-such-agent");
        challenge = res.headers.get("www-authenticate");
        return res;
      },
      401,
      "invalid_client",
    );
    // RFC 6749 §5.2: the client used the Authorization header, so the answer is a challenge.
    expect(challenge).toMatch(/^Basic /);
    await refused(
      () => broker.post("/token", { grant_type: TOKEN_EXCHANGE_GRANT, ...form }),
      401,
      "invalid_client",
    );
  });

  it.each([
    [CALENDAR, "calendar.write"],
    [FLIGHTS, "flights.search flights.book"],
  ])(
    "rule 6 (§3.6): an elevated scope waits for a human: authorization_pending, nothing issued (%s: %s)",
    async (resource, scope) => {
      const subject = await userToken();
      const mark = broker.events.length;
      const body = (await refused(
        () => exchange(access(subject, { resource, scope })),
        400,
        "authorization_pending",
        { rule: "approval.pending" },
      )) as ErrorResponse & Record<string, unknown>;
      const id = body.approval_id as string;
      expect(id).toBeTypeOf("string");
      expect(id).toMatch(/^apr_/);
      expect(body.approval_uri).toBe(`${broker.issuer}/approvals/${id}`);
      expect(body.interval).toBe(5);
      expect(broker.events.slice(mark).filter((e) => e.type === "approval.requested")).toEqual([
        expect.objectContaining({
          type: "approval.requested",
          approval: id,
          agent: "orchestrator",
          subject: USER,
          scopes: scope.split(" "),
        }),
      ]);
    },
  );
});

describe("design §4 rule 7: revocation cascades", () => {
  it("rule 7: a revoked delegation token, or one whose parent is revoked, yields nothing", async () => {
    const subject = await userToken();
    const d = await issue(delegation(subject, "flight-booker", "flights.search"));
    const revoke = await broker.post("/revoke", { token: d.access_token }, "orchestrator");
    expect(revoke.status).toBe(200);
    await refused(
      () => exchange(access(d.access_token, { resource: FLIGHTS }), "flight-booker"),
      400,
      "invalid_request",
      { rule: "subject.revoked" },
    );

    const root = await userToken();
    const child = await issue(delegation(root, "flight-booker", "flights.search"));
    expect((await broker.post("/revoke", { token: root }, "orchestrator")).status).toBe(200);
    await refused(
      () => exchange(access(child.access_token, { resource: FLIGHTS }), "flight-booker"),
      400,
      "invalid_request",
      { rule: "subject.revoked" },
    );
  });
});

describe("design §4 rule 8: fail closed", () => {
  it("rule 8: when the store cannot answer, 503 temporarily_unavailable with Retry-After and no token", async () => {
    const b = await startTestBroker();
    try {
      const subject = await userToken({}, b);
      const d = await issue(
        delegation(subject, "flight-booker", "flights.search"),
        "orchestrator",
        b,
      );
      await b.store.close();

      for (const form of [
        access(subject, { resource: DOCS, scope: "docs.read" }),
        access(d.access_token, { resource: FLIGHTS }),
      ]) {
        const agent = form.subject_token === subject ? "orchestrator" : "flight-booker";
        let retryAfter: string | null = null;
        await refused(
          async () => {
            const res = await exchange(form, agent, b);
            retryAfter = res.headers.get("retry-after");
            return res;
          },
          503,
          "temporarily_unavailable",
          { broker: b, rule: "store.unavailable" },
        );
        expect(Number(retryAfter)).toBeGreaterThan(0);
      }
      // Introspection cannot say "inactive" when it could not look: it fails closed too.
      const res = await b.post("/introspect", { token: d.access_token }, "orchestrator");
      expect(res.status).toBe(503);
      expect(((await res.json()) as ErrorResponse).error).toBe("temporarily_unavailable");
    } finally {
      await b.close();
    }
  });
});

describe("design §4 rule 9: no secrets in logs or errors", () => {
  it("rule 9: no audit event carries a subject token, an issued token or a client secret", async () => {
    // A few more paths that see secrets: client_secret_post, a wrong secret, a bad actor token.
    const subject = await userToken();
    const viaPost = await fetch(`${broker.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        ...(access(subject, { resource: DOCS, scope: "docs.read" }) as Record<string, string>),
        client_id: "orchestrator",
        client_secret: broker.secrets.orchestrator as string,
      }),
    });
    expect(viaPost.status).toBe(200);
    sensitive.add(((await viaPost.json()) as TokenResponse).access_token);
    const wrongSecret = "wrong-secret-that-must-not-be-logged";
    sensitive.add(wrongSecret);
    await refused(
      () =>
        fetch(`${broker.url}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ client_id: "orchestrator", client_secret: wrongSecret }),
        }),
      401,
      "invalid_client",
    );
    await refused(
      () =>
        exchange(
          access(subject, {
            resource: DOCS,
            actor_token: subject,
            actor_token_type: TOKEN_TYPE.jwt,
          }),
        ),
      400,
      "invalid_request",
    );

    expect(broker.events.some((e) => e.type === "client.auth_failed")).toBe(true);
    for (const event of broker.events) {
      const json = JSON.stringify(event);
      for (const value of sensitive) expect(json).not.toContain(value);
      expect(json).not.toMatch(/eyJ[\w-]+\.eyJ/);
    }
  });
});
