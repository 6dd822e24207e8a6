/**
 * `baton/verify` against a real Baton over loopback HTTP: discovery (RFC 8414), the JWKS,
 * RFC 9068 validation, RFC 6750 refusals, and RFC 7662 introspection for revocation; then the
 * hono and Express-style middleware of examples/middleware/.
 *
 * The broker's clock is fixed (T0); every verifier is given the same clock, never the system's.
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BearerError, createVerifier, type Verifier, type VerifierOptions } from "baton/verify";
import { Hono } from "hono";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireToken as expressRequireToken } from "../../examples/middleware/express.js";
import { type AuthEnv, requireToken as honoRequireToken } from "../../examples/middleware/hono.js";
import {
  b64url,
  exchange,
  expectIssued,
  tamperHeader,
  tamperPayload,
  unsignedJwt,
} from "../helpers/assertions.js";
import { sha256Hex, startTestBroker, type TestBroker } from "../helpers/broker.js";
import { accessForm, delegationForm, startTask } from "../helpers/tasks.js";

const USER = "alice@example.com";
const FLIGHTS = "https://flights.example.com";
const CALENDAR = "https://calendar.example.com";
/** The flights API's own client, for introspection: it authenticates, it never exchanges. */
const API_CLIENT = { clientId: "flights-api", clientSecret: "flights-api-test-secret" };

let broker: TestBroker;
/** A flight booker's token, delegated by the orchestrator, in a task. */
let good: { token: string; claims: Record<string, unknown>; task: string };
let calendarToken: string;
let delegationToken: string;

const verifier = (options: Partial<VerifierOptions> = {}): Verifier =>
  createVerifier({
    issuer: broker.issuer,
    audience: FLIGHTS,
    now: () => broker.clock.now(),
    ...options,
  });

/** Resolves with the BearerError that `promise` must reject with. */
async function refusal(promise: Promise<unknown>): Promise<BearerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BearerError);
  return err as BearerError;
}

/** Asserts the refusal's code and status, and that nothing of the token is in it. */
async function expectRefusal(
  promise: Promise<unknown>,
  code: string,
  status: number,
  token?: string,
): Promise<BearerError> {
  const err = await refusal(promise);
  expect({ code: err.code, status: err.status }).toEqual({ code, status });
  if (token !== undefined) {
    const shown = [err.message, String(err), JSON.stringify(err), err.stack ?? "", err.reason];
    shown.push(err.wwwAuthenticate("flights") ?? "");
    for (const text of shown) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.split(".")[2] || token);
    }
  }
  return err;
}

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.agents["flights-api"] = {
        description: "The flights API: introspects, never exchanges",
        secret_sha256: sha256Hex(API_CLIENT.clientSecret),
        disabled: true,
        // RFC 7662 §4: it sees the tokens of its own API, as in the demo's policies/agents.yaml.
        introspects: ["flights"],
      };
    },
  });
  const subject = await broker.devToken(USER);
  const task = await startTask(broker, "orchestrator", subject, {
    scope: "flights.search calendar.read",
  });
  const enter = { task_id: task.task_id };
  const delegation = await expectIssued(
    broker,
    exchange(
      broker,
      delegationForm(subject, "flight-booker", "flights.search", enter),
      "orchestrator",
    ),
  );
  delegationToken = delegation.token;
  const issued = await expectIssued(
    broker,
    exchange(broker, accessForm(delegation.token, "flights", "flights.search"), "flight-booker"),
  );
  good = { token: issued.token, claims: issued.claims, task: task.task_id };
  calendarToken = (
    await expectIssued(
      broker,
      exchange(broker, accessForm(subject, "calendar", "calendar.read", enter), "orchestrator"),
    )
  ).token;
});
afterAll(() => broker.close());

describe("baton/verify: accepts Baton's access tokens (RFC 9068)", () => {
  it("rfc9068 §4: a good token gives subject, actor, chain, task, scopes, client, exp and jti", async () => {
    const result = await verifier().verify(`Bearer ${good.token}`, { scopes: ["flights.search"] });
    expect(result).toEqual({
      subject: USER,
      actor: "flight-booker",
      chain: ["flight-booker", "orchestrator"],
      txn: good.task,
      scopes: ["flights.search"],
      clientId: "flight-booker",
      expiresAt: good.claims.exp,
      issuedAt: good.claims.iat,
      jti: good.claims.jti,
    });
  });

  it("rfc8693 §4.1: actor is the outermost act; the nested one only sits in the chain", async () => {
    const { actor, chain } = await verifier().verify(good.token);
    expect(good.claims.act).toEqual({ sub: "flight-booker", act: { sub: "orchestrator" } });
    expect(actor).toBe("flight-booker");
    expect(chain).toEqual(["flight-booker", "orchestrator"]);
  });

  it("rfc6750 §2.1: takes the Authorization header (any case of the scheme) or a bare token", async () => {
    const v = verifier();
    for (const input of [`Bearer ${good.token}`, `bearer ${good.token}`, good.token]) {
      expect((await v.verify(input)).jti).toBe(good.claims.jti);
    }
  });

  it("rfc8414 §3: finds the JWKS by discovery, or takes jwksUri as given", async () => {
    const v = verifier({ jwksUri: `${broker.issuer}/.well-known/jwks.json` });
    expect((await v.verify(good.token)).subject).toBe(USER);
  });
});

describe("baton/verify: refuses, with the exact RFC 6750 code and status", () => {
  it("rfc9068 §4: a token for another API (aud) is 401 invalid_token", async () => {
    const err = await expectRefusal(
      verifier().verify(calendarToken),
      "invalid_token",
      401,
      calendarToken,
    );
    expect(err.reason).toBe("aud");
    // The calendar's own verifier takes it.
    expect((await verifier({ audience: CALENDAR }).verify(calendarToken)).actor).toBe(
      "orchestrator",
    );
  });

  it("rfc9068 §4: an expired token is 401 invalid_token", async () => {
    const late = () => (good.claims.exp as number) + 6;
    const err = await expectRefusal(
      verifier({ now: late }).verify(good.token),
      "invalid_token",
      401,
      good.token,
    );
    expect(err.reason).toBe("exp");
    // Within the clock tolerance (5 s by default) it is still accepted.
    const edge = () => (good.claims.exp as number) + 4;
    expect((await verifier({ now: edge }).verify(good.token)).subject).toBe(USER);
  });

  it("rfc9068 §4 / design §3.4: a delegation token (typ delegation+jwt) is 401 invalid_token", async () => {
    const err = await expectRefusal(
      verifier().verify(delegationToken),
      "invalid_token",
      401,
      delegationToken,
    );
    expect(err.reason).toBe("typ");
  });

  it("rfc9068 §4: a token from another issuer is 401 invalid_token", async () => {
    // The same keys (jwksUri given), another issuer identifier: iss must match exactly.
    const v = verifier({
      issuer: broker.issuer.replace("127.0.0.1", "localhost"),
      jwksUri: `${broker.issuer}/.well-known/jwks.json`,
    });
    const err = await expectRefusal(v.verify(good.token), "invalid_token", 401, good.token);
    expect(err.reason).toBe("iss");
  });

  it("rfc8414 §3.3: metadata naming another issuer is refused: 503, fail closed", async () => {
    const v = verifier({ issuer: broker.issuer.replace("127.0.0.1", "localhost") });
    const err = await expectRefusal(
      v.verify(good.token),
      "temporarily_unavailable",
      503,
      good.token,
    );
    expect(err.reason).toBe("discovery.mismatch");
    expect(err.wwwAuthenticate()).toBeUndefined();
  });

  it("rfc6750 §3.1: a missing scope is 403 insufficient_scope, naming the scopes needed", async () => {
    const err = await expectRefusal(
      verifier().verify(good.token, { scopes: ["flights.search", "flights.book"] }),
      "insufficient_scope",
      403,
      good.token,
    );
    expect(err.scope).toEqual(["flights.search", "flights.book"]);
    expect(err.wwwAuthenticate("flights")).toBe(
      'Bearer realm="flights", error="insufficient_scope", error_description="The access token lacks a scope this request needs", scope="flights.search flights.book"',
    );
    expect(err.toJSON()).toEqual({
      error: "insufficient_scope",
      error_description: "The access token lacks a scope this request needs",
      scope: "flights.search flights.book",
    });
  });

  it("rfc7515 §5.2: a tampered signature or payload is 401 invalid_token", async () => {
    const [h, p, s] = good.token.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`;
    const widened = tamperPayload(good.token, { scope: "flights.search flights.book" });
    for (const forged of [flipped, widened]) {
      const err = await expectRefusal(verifier().verify(forged), "invalid_token", 401, forged);
      expect(err.reason).toBe("signature");
    }
  });

  it("rfc8725 §3.1: alg none and HS256 (even keyed with the public key) are 401 invalid_token", async () => {
    const claims = good.claims;
    const kid = (
      JSON.parse(Buffer.from(good.token.split(".")[0] as string, "base64url").toString()) as {
        kid: string;
      }
    ).kid;
    const none = unsignedJwt(claims, { alg: "none", typ: "at+jwt", kid });
    const jwks = (await (await fetch(`${broker.issuer}/.well-known/jwks.json`)).json()) as {
      keys: { x: string }[];
    };
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid })
      .sign(new TextEncoder().encode(jwks.keys[0]?.x));
    const relabelled = tamperHeader(good.token, { alg: "HS256" });
    for (const forged of [none, hs256, relabelled]) {
      const err = await expectRefusal(verifier().verify(forged), "invalid_token", 401, forged);
      expect(err.reason).toBe("alg");
    }
  });

  it("rfc6750 §3.1: no credentials is 401 with a bare challenge; a malformed header 400", async () => {
    const v = verifier();
    for (const input of [undefined, null, "", "Basic b3JjaGVzdHJhdG9yOng="]) {
      const err = await expectRefusal(v.verify(input), "missing_token", 401);
      expect(err.wwwAuthenticate()).toBe("Bearer");
      expect(err.wwwAuthenticate("flights")).toBe('Bearer realm="flights"');
    }
    for (const input of ["Bearer a b", "Bearer ", "Bearer tok?en"]) {
      await expectRefusal(v.verify(input), "invalid_request", 400);
    }
    await expectRefusal(v.verify(`Bearer ${"a".repeat(9000)}`), "invalid_token", 401);
  });

  it("only EdDSA and ES256 may be configured", () => {
    expect(() => verifier({ algorithms: ["HS256" as "ES256"] })).toThrow(TypeError);
  });
});

describe("baton/verify: introspection (RFC 7662) refuses revoked tokens", () => {
  it("rfc7009 §2 + rfc7662 §2.2: after a revocation, 401 invalid_token with introspection", async () => {
    const subject = await broker.devToken(USER);
    const issued = await expectIssued(
      broker,
      exchange(broker, accessForm(subject, "flights", "flights.search"), "orchestrator"),
    );
    const withIntrospection = verifier({ introspection: API_CLIENT });
    expect((await withIntrospection.verify(issued.token)).actor).toBe("orchestrator");

    const res = await broker.post("/revoke", { token: issued.token }, "orchestrator");
    expect(res.status).toBe(200);
    const err = await expectRefusal(
      withIntrospection.verify(issued.token),
      "invalid_token",
      401,
      issued.token,
    );
    expect(err.reason).toBe("revoked");
    // Without introspection a signature check cannot know: the token works until it expires.
    expect((await verifier().verify(issued.token)).actor).toBe("orchestrator");
  });

  it("rule 7: ending the task makes its tokens inactive at the API", async () => {
    const subject = await broker.devToken(USER);
    const task = await startTask(broker, "orchestrator", subject, { scope: "flights.search" });
    const issued = await expectIssued(
      broker,
      exchange(
        broker,
        accessForm(subject, "flights", "flights.search", { task_id: task.task_id }),
        "orchestrator",
      ),
    );
    const v = verifier({ introspection: API_CLIENT });
    expect((await v.verify(issued.token)).txn).toBe(task.task_id);
    const end = await broker.post(
      `/tasks/${task.task_id}/end`,
      { subject_token: subject, subject_token_type: "urn:ietf:params:oauth:token-type:jwt" },
      "orchestrator",
    );
    expect(end.status).toBe(200);
    await expectRefusal(v.verify(issued.token), "invalid_token", 401, issued.token);
  });

  it("fails closed: introspection that cannot authenticate is 503, not an accepted token", async () => {
    const v = verifier({ introspection: { ...API_CLIENT, clientSecret: "wrong" } });
    const err = await expectRefusal(
      v.verify(good.token),
      "temporarily_unavailable",
      503,
      good.token,
    );
    expect(err.reason).toBe("introspection.unreachable");
    expect(err.toResponse().headers).toMatchObject({ "Retry-After": "5" });
  });

  it("rfc7662 §4: an API client not registered to introspect this API is told inactive: 401", async () => {
    const { policy } = broker;
    const flightsApi = policy.agents.get("flights-api");
    if (!flightsApi) throw new Error("the test policy has no flights-api client");
    const v = verifier({ introspection: API_CLIENT });
    expect((await v.verify(good.token)).actor).toBe("flight-booker");
    try {
      // A hot reload that takes `introspects` away: the same good token is now refused.
      const agents = new Map(policy.agents);
      agents.set("flights-api", { ...flightsApi, introspects: new Set() });
      broker.setPolicy({ ...policy, agents });
      const err = await expectRefusal(v.verify(good.token), "invalid_token", 401, good.token);
      expect(err.reason).toBe("revoked");
    } finally {
      broker.setPolicy(policy);
    }
    expect((await v.verify(good.token)).actor).toBe("flight-booker");
  });

  it("fails closed: an unreachable issuer is 503", async () => {
    const v = verifier({ issuer: "http://127.0.0.1:9", timeoutMs: 1000 });
    await expectRefusal(v.verify(good.token), "temporarily_unavailable", 503, good.token);
  });
});

describe("examples/middleware: hono", () => {
  const app = () => {
    const v = verifier({ introspection: API_CLIENT });
    const hono = new Hono<AuthEnv>();
    hono.get("/flights", honoRequireToken(v, ["flights.search"], "flights"), (c) =>
      c.json({ actor: c.get("auth").actor, subject: c.get("auth").subject }),
    );
    hono.post("/bookings", honoRequireToken(v, ["flights.book"], "flights"), (c) =>
      c.json({ booked: true }, 201),
    );
    return hono;
  };

  it("passes a good token on, with the verified token in c.get('auth')", async () => {
    const res = await app().request("/flights", {
      headers: { authorization: `Bearer ${good.token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ actor: "flight-booker", subject: USER });
  });

  it("rfc6750 §3: 403 insufficient_scope, 401 invalid_token, 401 bare challenge", async () => {
    const h = app();
    const cases = [
      ["POST", "/bookings", `Bearer ${good.token}`, 403, "insufficient_scope"],
      ["GET", "/flights", `Bearer ${calendarToken}`, 401, "invalid_token"],
      ["GET", "/flights", `Bearer ${delegationToken}`, 401, "invalid_token"],
      ["GET", "/flights", undefined, 401, "unauthorized"],
    ] as const;
    for (const [method, path, authorization, status, error] of cases) {
      const res = await h.request(path, {
        method,
        headers: authorization === undefined ? {} : { authorization },
      });
      const text = await res.text();
      expect({ path, status: res.status, error: JSON.parse(text).error }).toEqual({
        path,
        status,
        error,
      });
      expect(res.headers.get("cache-control")).toBe("no-store");
      const challenge = res.headers.get("www-authenticate") as string;
      expect(challenge).toMatch(/^Bearer realm="flights"/);
      if (authorization === undefined) expect(challenge).toBe('Bearer realm="flights"');
      else expect(challenge).toContain(`error="${error}"`);
      for (const token of [good.token, calendarToken, delegationToken]) {
        expect(text).not.toContain(token);
        expect(challenge).not.toContain(token);
      }
    }
  });
});

describe("examples/middleware: Express-style (req, res, next) on node:http", () => {
  let server: Server;
  let url: string;
  let nextErrors: unknown[];

  beforeAll(async () => {
    nextErrors = [];
    const v = verifier();
    const search = expressRequireToken(v, ["flights.search"], "flights");
    const book = expressRequireToken(v, ["flights.book"], "flights");
    server = createServer((req, res) => {
      const guard = req.url === "/bookings" ? book : search;
      void guard(req, res, (err?: unknown) => {
        if (err !== undefined) {
          nextErrors.push(err);
          res.statusCode = 500;
          res.end();
          return;
        }
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ actor: (req as { auth?: { actor?: string } }).auth?.actor }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  it("calls next() with req.auth set for a good token", async () => {
    const res = await fetch(`${url}/flights`, {
      headers: { authorization: `Bearer ${good.token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ actor: "flight-booker" });
  });

  it("rfc6750 §3: answers the refusal itself, with the challenge, and never calls next", async () => {
    const book = await fetch(`${url}/bookings`, {
      headers: { authorization: `Bearer ${good.token}` },
    });
    expect(book.status).toBe(403);
    expect(book.headers.get("www-authenticate")).toBe(
      'Bearer realm="flights", error="insufficient_scope", error_description="The access token lacks a scope this request needs", scope="flights.book"',
    );
    expect(book.headers.get("content-type")).toBe("application/json");
    expect(await book.json()).toMatchObject({ error: "insufficient_scope", scope: "flights.book" });

    const wrongApi = await fetch(`${url}/flights`, {
      headers: { authorization: `Bearer ${calendarToken}` },
    });
    expect(wrongApi.status).toBe(401);
    const body = await wrongApi.text();
    expect(JSON.parse(body).error).toBe("invalid_token");
    expect(body).not.toContain(calendarToken);

    const none = await fetch(`${url}/flights`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="flights"');

    const forged = `${b64url({ alg: "none" })}.${b64url({ sub: USER })}.`;
    const unsigned = await fetch(`${url}/flights`, {
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(unsigned.status).toBe(401);
    expect(nextErrors).toEqual([]);
  });
});
