/**
 * Adversarial suite: introspection answers only those entitled to the answer (RFC 7662 §4,
 * issue 14 item 8). Any authenticated client can POST any token it got hold of to
 * /introspect; only the token's holder, an agent in its chain (or named in `may_act`), or the
 * client of the API it is for (`introspects` in policy) learns its user, scopes and chain.
 * Everyone else gets exactly `{"active": false}`, byte for byte the answer for an unknown token,
 * so a stolen token cannot even be told live from dead.
 *
 * Real HTTP over loopback against a real broker; every group starts with the entitled control.
 */

import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../../src/audit/events.js";
import { compilePolicy } from "../../src/policy/load.js";
import {
  type AgentCredentials,
  exchange,
  expectIssued,
  type Form,
  postForm,
} from "../helpers/assertions.js";
import { sha256Hex, startTestBroker, type TestBroker } from "../helpers/broker.js";
import { accessForm, delegationForm } from "../helpers/tasks.js";

const USER = "alice@example.com";
const CALENDAR = "https://calendar.example.com";

/** The calendar API's own client: disabled (it never exchanges), it introspects calendar. */
const CALENDAR_API: AgentCredentials = { id: "calendar-api", secret: "calendar-api-test-secret" };

let broker: TestBroker;
/** The test policy's data as the broker started with it, for the hot reload below. */
let policyData: Record<string, any>;

/** Tokens of one user's work: what each agent holds. */
let tokens: {
  /** The orchestrator's own calendar token (`client_id` orchestrator). */
  calendar: string;
  /** The orchestrator's own flights token. */
  flights: string;
  /** orchestrator → flight-booker (`may_act` flight-booker). */
  delegation: string;
  /** flight-booker's flights token, acting for the orchestrator's chain. */
  booker: string;
  /** flight-booker → researcher, then the researcher's own flights token: depth 3. */
  researcher: string;
};

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      data.agents["calendar-api"] = {
        description: "The calendar API: introspects, never exchanges",
        secret_sha256: sha256Hex(CALENDAR_API.secret),
        disabled: true,
        introspects: ["calendar"],
      };
      policyData = structuredClone(data);
    },
  });
  const user = await broker.devToken(USER);
  const issue = async (agent: string, form: Form) =>
    (await expectIssued(broker, exchange(broker, form, agent))).token;
  const delegation = await issue(
    "orchestrator",
    delegationForm(user, "flight-booker", "flights.search"),
  );
  const toResearcher = await issue(
    "flight-booker",
    delegationForm(delegation, "researcher", "flights.search"),
  );
  tokens = {
    calendar: await issue("orchestrator", accessForm(user, "calendar", "calendar.read")),
    flights: await issue("orchestrator", accessForm(user, "flights", "flights.search")),
    delegation,
    booker: await issue("flight-booker", accessForm(delegation, "flights", "flights.search")),
    researcher: await issue("researcher", accessForm(toResearcher, "flights", "flights.search")),
  };
});
afterAll(() => broker.close());

interface Answer {
  readonly status: number;
  /** The headers that shape the answer (not `date`). */
  readonly headers: Record<string, string | null>;
  readonly text: string;
}

/** POST /introspect as `who`; the raw answer, to compare byte for byte. */
async function introspect(token: string, who: string | AgentCredentials): Promise<Answer> {
  const res = await postForm(broker, "/introspect", { token }, who);
  const headers: Record<string, string | null> = {};
  for (const name of ["content-type", "content-length", "cache-control", "pragma"]) {
    headers[name] = res.headers.get(name);
  }
  return { status: res.status, headers, text: await res.text() };
}

/** What an unknown token gets: the one answer every refusal must be identical to. */
const unknownAnswer = () => introspect("not-a-token", "orchestrator");

/** The claims an entitled caller sees. */
async function expectClaims(token: string, who: string | AgentCredentials) {
  const answer = await introspect(token, who);
  expect(answer.status).toBe(200);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  expect(body).toMatchObject({ active: true, jti: decodeJwt(token).jti, sub: USER });
  return body;
}

/** RFC 7662 §4: not entitled, so the same 200 `{"active": false}` as for an unknown token. */
async function expectNothing(token: string, who: string | AgentCredentials) {
  const answer = await introspect(token, who);
  expect(answer).toEqual(await unknownAnswer());
  expect(answer.status).toBe(200);
  expect(answer.headers["cache-control"]).toBe("no-store");
  expect(answer.text).toBe('{"active":false}');
}

const lastIntrospection = (): AuditEvent | undefined =>
  broker.events.filter((e) => e.type === "token.introspected").at(-1);

describe("rfc7662 §4: an agent that is none of the token's business learns nothing", () => {
  it("control: the holder sees its own token's claims", async () => {
    const body = await expectClaims(tokens.calendar, "orchestrator");
    expect(body).toMatchObject({
      client_id: "orchestrator",
      aud: CALENDAR,
      scope: "calendar.read",
    });
  });

  it.each([
    ["calendar", "impersonator"],
    ["flights", "impersonator"],
    // Disabled agents authenticate at /introspect too: being disabled entitles to nothing.
    ["calendar", "retired"],
    ["flights", "retired"],
  ] as const)(
    "an unrelated authenticated agent gets exactly {active:false} for a live %s token (%s)",
    async (token, agent) => {
      await expectNothing(tokens[token], agent);
    },
  );

  it("the refused answer is byte-identical to an unknown and a revoked token's", async () => {
    const refused = await introspect(tokens.calendar, "impersonator");
    expect(refused).toEqual(await unknownAnswer());
    const user = await broker.devToken(USER);
    const doomed = (
      await expectIssued(
        broker,
        exchange(broker, accessForm(user, "calendar", "calendar.read"), "orchestrator"),
      )
    ).token;
    expect((await broker.post("/revoke", { token: doomed }, "orchestrator")).status).toBe(200);
    expect(await introspect(doomed, "orchestrator")).toEqual(refused);
  });

  it("a sub-agent does not see its parent's own tokens", async () => {
    await expectNothing(tokens.calendar, "flight-booker");
    await expectNothing(tokens.flights, "researcher");
    // Nor a sibling's: researcher is in no chain of flight-booker's token.
    await expectNothing(tokens.booker, "researcher");
  });

  it("the probe is audited: active, by whom, by jti, and that the caller was not entitled", async () => {
    await introspect(tokens.calendar, "impersonator");
    // Every event carries the policy version it was decided under (issue 9), as `serve` records.
    expect(lastIntrospection()).toEqual({
      policy: broker.policy.version,
      type: "token.introspected",
      by: "impersonator",
      active: true,
      jti: decodeJwt(tokens.calendar).jti,
      entitled: false,
    });
    await introspect(tokens.calendar, "orchestrator");
    expect(lastIntrospection()).not.toHaveProperty("entitled");
    expect(JSON.stringify(broker.events)).not.toContain(tokens.calendar);
  });
});

describe("rfc7662 §4 + rfc8693 §4.1: the agents of the chain are entitled", () => {
  it("the parent sees its sub-agent's token (it stands in the act chain)", async () => {
    const body = await expectClaims(tokens.booker, "orchestrator");
    expect(body).toMatchObject({
      client_id: "flight-booker",
      act: { sub: "flight-booker", act: { sub: "orchestrator" } },
    });
    await expectClaims(tokens.booker, "flight-booker");
  });

  it("at any depth: both ancestors see the grandchild's token", async () => {
    for (const agent of ["researcher", "flight-booker", "orchestrator"]) {
      const body = await expectClaims(tokens.researcher, agent);
      expect(body.act).toEqual({
        sub: "researcher",
        act: { sub: "flight-booker", act: { sub: "orchestrator" } },
      });
    }
  });

  it("rfc8693 §4.4: the sub-agent named in may_act sees the delegation token; others do not", async () => {
    const body = await expectClaims(tokens.delegation, "flight-booker");
    expect(body).toMatchObject({ may_act: { sub: "flight-booker" }, token_type: "N_A" });
    await expectClaims(tokens.delegation, "orchestrator");
    await expectNothing(tokens.delegation, "researcher");
    await expectNothing(tokens.delegation, "impersonator");
    // A delegation token is for the broker, never an API: no API client sees it.
    await expectNothing(tokens.delegation, CALENDAR_API);
  });
});

describe("rfc7662 §4: an API's own client sees the tokens of the APIs it introspects", () => {
  it("calendar-api (introspects: [calendar]) sees a calendar token, disabled as it is", async () => {
    const body = await expectClaims(tokens.calendar, CALENDAR_API);
    expect(body).toMatchObject({
      aud: CALENDAR,
      scope: "calendar.read",
      client_id: "orchestrator",
    });
  });

  it.each(["flights", "booker", "researcher"] as const)(
    "calendar-api gets {active:false} for a flights token (%s)",
    async (token) => {
      await expectNothing(tokens[token], CALENDAR_API);
    },
  );

  it("a hot policy change that removes introspects is in force at the next request", async () => {
    await expectClaims(tokens.calendar, CALENDAR_API);
    const edited = structuredClone(policyData);
    delete edited.agents["calendar-api"].introspects;
    const before = broker.policy;
    try {
      broker.setPolicy(compilePolicy([{ file: "test.yaml", data: edited }]));
      await expectNothing(tokens.calendar, CALENDAR_API);
      // The holder is unaffected: its entitlement comes from the token, not from `introspects`.
      await expectClaims(tokens.calendar, "orchestrator");
    } finally {
      broker.setPolicy(before);
    }
    await expectClaims(tokens.calendar, CALENDAR_API);
  });
});

describe("rfc7662 §4: development tokens", () => {
  it("a token bound to an agent (azp) is seen by that agent only", async () => {
    const bound = await broker.devToken(USER, { agent: "orchestrator" });
    const body = await expectClaims(bound, "orchestrator");
    expect(body).toMatchObject({ token_type: "Bearer" });
    await expectNothing(bound, "flight-booker");
    await expectNothing(bound, CALENDAR_API);
  });

  it("a token bound to no agent is any agent's to present, so any agent may see it", async () => {
    const open = await broker.devToken(USER);
    await expectClaims(open, "orchestrator");
    await expectClaims(open, "impersonator");
  });

  it.each<[string, string | AgentCredentials]>([
    ["orchestrator", "orchestrator"],
    ["impersonator", "impersonator"],
    ["calendar-api", CALENDAR_API],
  ])(
    "a person's sign-in token for the approval page is no agent's: inactive to %s",
    async (_, agent) => {
      const signIn = await broker.devToken(USER, { for: "approvals" });
      await expectNothing(signIn, agent);
    },
  );
});
