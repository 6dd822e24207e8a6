/**
 * Property test of the narrowing rules (design §4 rules 1, 2, 4, 5; §8; issue 2 "done when").
 *
 * Each run draws a policy (five agents with random scopes and delegate_to edges, a random
 * max_depth), a user's development token (maybe bound to scopes and to a holder), and a random
 * walk of delegations and access-token exchanges with random scopes, ttl_seconds and clock
 * advances. A small model predicts every step:
 *
 * - a step the model allows must succeed, with exactly the predicted scope, `exp` and `act`;
 * - a step that breaks a rule must be refused with 400 and one of the codes of the rules it
 *   breaks, with nothing issued; nothing is ever a 5xx;
 * - and, stated directly: every issued token's scope ⊆ its subject token's scope and the
 *   agent's scopes, its `exp` ≤ the subject's `exp`, and its `act` is the actors, current first.
 *
 * One broker serves every run; each run swaps its policy in, as a hot reload would.
 *
 * This is the thin HTTP variant: the same rules run thousands of times against the planners
 * themselves in planner.property.test.ts; a deeper run here: the environment variable below.
 */

import fc from "fast-check";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compilePolicy } from "../../src/policy/load.js";
import { readActChain } from "../../src/tokens/act.js";
import {
  API_IDS,
  API_MAX_TTL,
  API_OF,
  APIS,
  type ApiId,
  apiArb,
  DEFAULT_SCOPES,
  DEFAULT_TTL,
  ELEVATED,
  MAX_TTL,
  randomScopesArb,
  SCOPES,
  ttlArb,
} from "../helpers/arbitraries.js";
import { type AgentCredentials, exchange, type Form, issuedCount } from "../helpers/assertions.js";
import { sha256Hex, startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";

const USER = "alice@example.com";
const AGENTS = ["a0", "a1", "a2", "a3", "a4"] as const;
type AgentId = (typeof AGENTS)[number];
const credentials = (id: AgentId): AgentCredentials => ({ id, secret: `${id}-property-secret` });

// ---------------------------------------------------------------------------------------------
// What is drawn

interface PolicyDraw {
  readonly maxDepth: number;
  readonly agents: readonly { readonly scopes: string[]; readonly delegateTo: AgentId[] }[];
}

const policyArb: fc.Arbitrary<PolicyDraw> = fc.record({
  maxDepth: fc.integer({ min: 2, max: 5 }),
  agents: fc.tuple(
    ...AGENTS.map(() =>
      fc.record({
        // Mostly broad agents and several edges, so that long chains happen often enough.
        scopes: fc.subarray(SCOPES, { minLength: 3 }),
        delegateTo: fc.subarray([...AGENTS], { minLength: 2 }),
      }),
    ),
  ),
});

const userArb = fc.record({
  /** Bound to these scopes, or unbound. */
  scopes: fc.option(fc.subarray(SCOPES), { nil: undefined }),
  /** The one agent that may exchange it (`azp`), usually none. */
  holder: fc.option(fc.constantFrom(...AGENTS), { nil: undefined, freq: 3 }),
  ttl: fc.integer({ min: 60, max: 7200 }),
});

const stepArb = fc.record({
  kind: fc.constantFrom("delegate", "delegate", "access") as fc.Arbitrary<"delegate" | "access">,
  /** The acting agent when the subject names no holder, or when this step is rogue. */
  actor: fc.constantFrom(...AGENTS),
  /** A step by another agent than the subject's holder (may_act / azp). */
  rogue: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  /** Picks the sub-agent: along the actor's edges unless `offEdge`. */
  target: fc.nat(),
  offEdge: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  api: apiArb,
  /** `fit`: a subset of what could be granted; `random`: any scopes; `none`: no scope param. */
  scopeMode: fc.constantFrom("fit", "fit", "fit", "fit", "random", "random", "none"),
  mask: fc.nat(63),
  randomScopes: randomScopesArb,
  ttl: ttlArb,
  /** Seconds the clock moves after the step: mostly a little, sometimes past a token's life. */
  advance: fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 0, max: 60 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 900 }) },
  ),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------
// The model

interface Model {
  readonly maxDepth: number;
  readonly scopes: ReadonlyMap<AgentId, ReadonlySet<string>>;
  readonly edges: ReadonlyMap<AgentId, readonly AgentId[]>;
}

/** The subject token currently held, as the model sees it. */
interface Held {
  readonly token: string;
  /** Prior actors, current first. */
  readonly chain: readonly AgentId[];
  /** Undefined when the token does not bound scope. */
  readonly scopes?: ReadonlySet<string>;
  readonly exp: number;
  /** `may_act` of a delegation token, `azp` of a user's token. */
  readonly holder?: AgentId;
}

interface Plan {
  readonly actor: AgentId;
  readonly form: Form;
  /** The error codes of the rules this request breaks: empty means it must succeed. */
  readonly violations: ReadonlySet<string>;
  readonly scopes: readonly string[];
  readonly chain: readonly AgentId[];
  readonly exp: number;
  readonly subAgent?: AgentId;
  readonly api?: ApiId;
}

/** The drawn edges of agent `i`; the policy refuses an edge to oneself. */
const edgesOf = (draw: PolicyDraw, i: number): AgentId[] =>
  (draw.agents[i]?.delegateTo ?? []).filter((to) => to !== AGENTS[i]);

function toModel(draw: PolicyDraw): Model {
  return {
    maxDepth: draw.maxDepth,
    scopes: new Map(AGENTS.map((id, i) => [id, new Set(draw.agents[i]?.scopes)])),
    edges: new Map(AGENTS.map((id, i) => [id, edgesOf(draw, i)])),
  };
}

function policyData(draw: PolicyDraw): Record<string, unknown> {
  return {
    broker: {
      signing_alg: "EdDSA",
      default_ttl: "5m",
      max_ttl: "1h",
      max_depth: draw.maxDepth,
      dev_issuer: true,
      // Approvals pile up across runs on one broker: the cap is not what this property is about.
      max_open_approvals: 1000,
    },
    apis: APIS,
    agents: Object.fromEntries(
      AGENTS.map((id, i) => [
        id,
        {
          secret_sha256: sha256Hex(credentials(id).secret),
          scopes: draw.agents[i]?.scopes ?? [],
          delegate_to: edgesOf(draw, i),
        },
      ]),
    ),
  };
}

/** Decides the request of a step and predicts its outcome from the rules of design §4. */
function plan(model: Model, held: Held, step: Step, now: number): Plan {
  const actor = held.holder !== undefined && !step.rogue ? held.holder : step.actor;
  const mine = model.scopes.get(actor) ?? new Set<string>();
  const violations = new Set<string>();
  // Rule 2 / RFC 7519: an expired subject; rule 5: a subject held by another agent.
  if (held.exp <= now) violations.add("invalid_request");
  if (held.holder !== undefined && held.holder !== actor) violations.add("invalid_request");
  // Rule 4: the actor wraps the chain; no cycle, at most max_depth.
  const chain = [actor, ...held.chain];
  if (held.chain.includes(actor) || chain.length > model.maxDepth)
    violations.add("invalid_request");

  if (step.kind === "access") {
    const grantableAt = (api: ApiId) =>
      SCOPES.filter(
        (s) =>
          API_OF.get(s) === api && mine.has(s) && !ELEVATED.has(s) && (held.scopes?.has(s) ?? true),
      );
    // A fitting step prefers an API where something can be granted at all.
    const apis = [step.api, ...API_IDS.filter((a) => a !== step.api)];
    const api =
      step.scopeMode === "fit"
        ? (apis.find((a) => grantableAt(a).length > 0) ?? step.api)
        : step.api;
    const grantable = grantableAt(api);
    const grantableIgnoringApproval = (scope: string) =>
      API_OF.get(scope) === api && mine.has(scope) && (held.scopes?.has(scope) ?? true);
    const requested = pickScopes(step, grantable);
    const scopes = requested ?? DEFAULT_SCOPES[api];
    if (scopes.length === 0) violations.add("invalid_scope");
    // Rule 6: a scope that would be granted but for its `approval:` waits for a human
    // (authorization_pending, nothing issued); any other misfit is invalid_scope first.
    const approvable = (scope: string) => ELEVATED.has(scope) && grantableIgnoringApproval(scope);
    const misfits = scopes.filter((s) => !grantable.includes(s));
    if (misfits.some((s) => !approvable(s))) violations.add("invalid_scope");
    else if (misfits.length > 0) violations.add("authorization_pending");
    const exp = Math.min(
      now + (step.ttl ?? DEFAULT_TTL),
      now + API_MAX_TTL[api],
      now + MAX_TTL,
      held.exp,
    );
    return {
      actor,
      form: request(held, step, requested, { audience: api }),
      violations,
      scopes,
      chain,
      exp,
      api,
    };
  }

  const edges = model.edges.get(actor) ?? [];
  const subAgent = (
    step.offEdge || edges.length === 0
      ? AGENTS[step.target % AGENTS.length]
      : edges[step.target % edges.length]
  ) as AgentId;
  // Rule 5: only along policy edges; rule 4: the sub-agent must be able to redeem it.
  if (!edges.includes(subAgent)) violations.add("invalid_target");
  if (chain.includes(subAgent) || chain.length + 1 > model.maxDepth)
    violations.add("invalid_request");
  const theirs = model.scopes.get(subAgent) ?? new Set<string>();
  const grantable = SCOPES.filter(
    (s) => mine.has(s) && theirs.has(s) && (held.scopes?.has(s) ?? true),
  );
  const requested = pickScopes(step, grantable);
  const scopes = requested ?? [];
  if (scopes.length === 0) violations.add("invalid_scope");
  if (scopes.some((s) => !grantable.includes(s))) violations.add("invalid_scope");
  const exp = Math.min(now + (step.ttl ?? DEFAULT_TTL), now + MAX_TTL, held.exp);
  return {
    actor,
    form: request(held, step, requested, {
      audience: subAgent,
      requested_token_type: TOKEN_TYPE.jwt,
    }),
    violations,
    scopes,
    chain,
    exp,
    subAgent,
  };
}

/** The scopes a step asks for; undefined sends no `scope` parameter. */
function pickScopes(step: Step, grantable: readonly string[]): string[] | undefined {
  if (step.scopeMode === "none") return undefined;
  if (step.scopeMode === "random" || grantable.length === 0) return step.randomScopes;
  const subset = grantable.filter((_, i) => (step.mask >> i) & 1);
  return subset.length > 0 ? subset : [grantable[0] as string];
}

function request(
  held: Held,
  step: Step,
  scopes: readonly string[] | undefined,
  target: Form,
): Form {
  return {
    subject_token: held.token,
    ...target,
    ...(scopes === undefined ? {} : { scope: scopes.join(" ") }),
    ...(step.ttl === undefined ? {} : { ttl_seconds: String(step.ttl) }),
  };
}

// ---------------------------------------------------------------------------------------------
// Running a walk

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

/** Performs one step against the broker, checks it against the plan, returns the new subject. */
async function perform(held: Held, p: Plan, now: number): Promise<Held> {
  const before = issuedCount(broker);
  const res = await exchange(broker, p.form, credentials(p.actor));
  const body = (await res.json()) as Record<string, unknown>;
  const context = JSON.stringify({
    status: res.status,
    body,
    violations: [...p.violations],
    actor: p.actor,
    chain: held.chain,
    form: { ...p.form, subject_token: "…" },
  });

  expect(res.status, context).toBeLessThan(500);
  if (p.violations.size > 0) {
    expect(res.status, context).toBe(400);
    expect([...p.violations], context).toContain(body.error);
    expect(body.access_token, context).toBeUndefined();
    expect(issuedCount(broker), context).toBe(before);
    return held;
  }

  expect(res.status, context).toBe(200);
  expect(issuedCount(broker), context).toBe(before + 1);
  const token = body.access_token as string;
  const claims = decodeJwt(token);
  const scopes = String(claims.scope).split(" ");
  const chain = readActChain(claims.act);

  // The rules, stated directly.
  for (const s of scopes) {
    if (held.scopes) expect(held.scopes.has(s), `${s} ⊆ subject scope: ${context}`).toBe(true);
  }
  expect(claims.exp as number, context).toBeLessThanOrEqual(held.exp);
  expect(chain, context).toEqual([p.actor, ...held.chain]);
  expect(claims.sub).toBe(USER);
  expect(claims.client_id).toBe(p.actor);
  expect(claims.iat).toBe(now);

  // Exactly what the model predicts.
  expect(new Set(scopes), context).toEqual(new Set(p.scopes));
  expect(body.scope).toBe(claims.scope);
  expect(claims.exp, context).toBe(p.exp);
  expect(body.expires_in).toBe(p.exp - now);
  const last = broker.events.at(-1);
  expect(last?.type === "exchange.issued" && last.chain).toEqual(p.chain);

  if (p.subAgent === undefined) {
    expect(decodeProtectedHeader(token).typ).toBe("at+jwt");
    expect(claims.aud).toBe(APIS[p.api as ApiId].resource);
    expect(claims.may_act).toBeUndefined();
    return held; // an access token is a leaf: the walk goes on from the same subject
  }
  expect(decodeProtectedHeader(token).typ).toBe("delegation+jwt");
  expect(claims.aud).toBe(broker.issuer);
  expect(claims.may_act).toEqual({ sub: p.subAgent });
  return {
    token,
    chain: p.chain,
    scopes: new Set(scopes),
    exp: claims.exp as number,
    holder: p.subAgent,
  };
}

it("along random delegation chains, scope and exp never grow and act is the exact chain", async () => {
  await fc.assert(
    fc.asyncProperty(
      policyArb,
      userArb,
      fc.array(stepArb, { minLength: 1, maxLength: 10 }),
      async (draw, user, steps) => {
        broker.setPolicy(compilePolicy([{ file: "property.yaml", data: policyData(draw) }]));
        const model = toModel(draw);
        const token = await broker.devToken(USER, {
          ttl: user.ttl,
          ...(user.holder === undefined ? {} : { agent: user.holder }),
          ...(user.scopes === undefined ? {} : { scopes: user.scopes }),
        });
        let held: Held = {
          token,
          chain: [],
          exp: broker.clock.now() + user.ttl,
          ...(user.scopes === undefined ? {} : { scopes: new Set(user.scopes) }),
          ...(user.holder === undefined ? {} : { holder: user.holder }),
        };
        for (const step of steps) {
          const now = broker.clock.now();
          held = await perform(held, plan(model, held, step, now), now);
          broker.clock.advance(step.advance);
        }
      },
    ),
    { numRuns: Number(process.env.CHAIN_PROPERTY_RUNS ?? 15) },
  );
}, 120_000);
