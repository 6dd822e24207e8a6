/**
 * Planner-level properties of the narrowing rules (design §4 rules 1, 2, 4, 5; §8; issue 15
 * item 6): thousands of cases a second, no HTTP. The HTTP properties beside this file
 * (chain.property, task.property) walk the same rules through the real broker, fewer times.
 *
 * Each run draws a policy (four to six agents with random scopes and delegate_to edges, a
 * random max_depth), a verified subject (a random chain of distinct agents, maybe bound to
 * scopes, a random exp, sometimes already past), maybe a task (a random ceiling and deadline),
 * and a request (a random agent, API or sub-agent, scopes, ttl). Then, of `planAccess` and
 * `planDelegation`:
 *
 * - soundness: whatever is issued has scope ⊆ requested ∩ API ∩ agent (∩ sub-agent) ∩ subject
 *   ∩ ceiling ∩ each delegator, exp = the least of every bound and > now, and a chain that is
 *   the agent wrapped around the subject's, with no agent twice and at most max_depth long;
 * - completeness: a request inside every bound is issued, exactly so (nothing silently dropped);
 * - a request outside a bound is refused with 400 and the code and rule of a bound it breaks;
 * - a delegation to an agent outside `delegate_to` is always refused (invalid_target).
 *
 * A last property walks random delegation chains, each delegation token the next subject, and
 * checks that scope and exp never grow and that the chain is exactly the actors, current first.
 */

import fc from "fast-check";
import { describe, it } from "vitest";
import { type Grant, planAccess, planDelegation } from "../../src/exchange/operations/exchange.js";
import type { Subject } from "../../src/exchange/steps/verify-subject.js";
import type { TokenExchangeRequest } from "../../src/exchange/types.js";
import { compilePolicy } from "../../src/policy/load.js";
import type { Agent, Policy } from "../../src/policy/types.js";
import type { TaskRecord } from "../../src/tasks/task-store.js";
import { TOKEN_TYPE } from "../../src/tokens/token-types.js";
import {
  API_MAX_TTL,
  API_OF,
  APIS,
  type ApiId,
  apiArb,
  DEFAULT_SCOPES,
  DEFAULT_TTL,
  MAX_TTL,
  SCOPES,
  ttlArb,
} from "../helpers/arbitraries.js";

const NOW = 1_700_000_000;
const USER = "alice@example.com";
/** Policies drawn per property, and cases (or walks) planned against each. */
const RUNS = Number(process.env.PLANNER_PROPERTY_RUNS ?? 300);
const PER_POLICY = 10;

// ---------------------------------------------------------------------------------------------
// What is drawn

interface PolicyDraw {
  readonly maxDepth: number;
  readonly agents: readonly { readonly scopes: string[]; readonly delegateTo: string[] }[];
}

const agentIds = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);

const policyDrawArb: fc.Arbitrary<PolicyDraw> = fc.integer({ min: 4, max: 6 }).chain((n) =>
  fc.record({
    maxDepth: fc.integer({ min: 1, max: 6 }),
    agents: fc.array(
      fc.record({
        scopes: fc.subarray(SCOPES, { minLength: 1 }),
        delegateTo: fc.subarray(agentIds(n)),
      }),
      { minLength: n, maxLength: n },
    ),
  }),
);

/** The policy a draw describes (an edge to oneself is a policy error, so it is left out). */
function compile(draw: PolicyDraw): Policy {
  const ids = agentIds(draw.agents.length);
  return compilePolicy([
    {
      file: "planner-property.yaml",
      data: {
        broker: { default_ttl: "5m", max_ttl: "1h", max_depth: draw.maxDepth },
        apis: APIS,
        agents: Object.fromEntries(
          draw.agents.map((a, i) => [
            ids[i],
            {
              secret_sha256: "c".repeat(64),
              scopes: a.scopes,
              delegate_to: a.delegateTo.filter((to) => to !== ids[i]),
            },
          ]),
        ),
      },
    },
  ]);
}

/** Everything a planner reads besides the policy, drawn against `n` agents. */
const caseArb = (n: number) =>
  fc.record({
    /** The subject's chain: distinct agents, current first (empty: the user's own token). */
    chain: fc.shuffledSubarray(agentIds(n)),
    subjectScopes: fc.option(fc.subarray(SCOPES), { nil: undefined }),
    /** Seconds the subject token has left: sometimes none. */
    subjectLife: fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: 1, max: 7200 }) },
      { weight: 1, arbitrary: fc.integer({ min: -120, max: 0 }) },
    ),
    task: fc.option(
      fc.record({
        ceiling: fc.subarray(SCOPES),
        life: fc.oneof(
          { weight: 9, arbitrary: fc.integer({ min: 1, max: 7200 }) },
          { weight: 1, arbitrary: fc.integer({ min: -60, max: 0 }) },
        ),
      }),
      { nil: undefined, freq: 3 },
    ),
    agent: fc.constantFrom(...agentIds(n)),
    /** For a delegation: usually along one of the agent's edges, sometimes any agent. */
    target: fc.nat(),
    offEdge: fc.integer({ min: 0, max: 4 }).map((k) => k === 0),
    api: apiArb,
    /** `fit`: a subset of what can be granted; `any`: random scopes; `none`: no scope param. */
    scopeMode: fc.constantFrom("fit", "fit", "any", "none"),
    mask: fc.nat(255),
    anyScopes: fc.subarray(SCOPES),
    ttl: ttlArb,
  });
type Case = typeof caseArb extends (n: number) => fc.Arbitrary<infer T> ? T : never;

const agent = (policy: Policy, id: string): Agent => policy.agents.get(id) as Agent;

function subjectOf(c: Case): Subject {
  return {
    source: c.chain.length === 0 ? "dev" : "delegation",
    sub: USER,
    chain: c.chain,
    exp: NOW + c.subjectLife,
    ...(c.subjectScopes === undefined ? {} : { scopes: new Set(c.subjectScopes) }),
  };
}

function taskOf(c: Case): TaskRecord | undefined {
  if (!c.task) return undefined;
  return {
    id: "tsk_property",
    purpose: "property",
    agent: c.chain.at(-1) ?? c.agent,
    subject: USER,
    ceiling: c.task.ceiling,
    deadline: NOW + c.task.life,
    maxTokens: 10,
    createdAt: NOW - 1,
  };
}

/** The scopes a case asks for; undefined sends none. */
function pick(c: Case, grantable: readonly string[]): string[] | undefined {
  if (c.scopeMode === "none") return undefined;
  if (c.scopeMode === "any" || grantable.length === 0) return c.anyScopes;
  const subset = grantable.filter((_, i) => (c.mask >> i) & 1);
  return subset.length > 0 ? subset : [grantable[0] as string];
}

function request(c: Case, over: Partial<TokenExchangeRequest>): TokenExchangeRequest {
  return {
    subjectToken: "unused",
    subjectTokenType: TOKEN_TYPE.jwt,
    requestedTokenType: TOKEN_TYPE.accessToken,
    resources: [],
    audiences: [],
    ...(c.ttl === undefined ? {} : { ttlSeconds: c.ttl }),
    ...over,
  };
}

type Outcome = { grant: Grant } | { refusal: { code: string; status: number; rule: string } };

function attempt(plan: () => Grant): Outcome {
  try {
    return { grant: plan() };
  } catch (err) {
    const { code, status, rule } = err as { code: string; status: number; rule: string };
    return { refusal: { code, status, rule } };
  }
}

// ---------------------------------------------------------------------------------------------
// The bounds, stated from the draw (never from the planner)

interface Bounds {
  readonly policy: Policy;
  readonly agent: Agent;
  readonly subject: Subject;
  readonly task: TaskRecord | undefined;
  /** The agents that delegated the subject, under the policy in force. */
  readonly delegators: readonly Agent[];
}

/** Each scope bound of rule 1 a scope lies in, with the rule that names it. */
function scopeBounds(b: Bounds, extra: [string, (s: string) => boolean][]) {
  return [
    ["narrow.scope.unknown", (s: string) => b.policy.scopes.has(s)],
    ...extra,
    ["narrow.scope.agent", (s: string) => b.agent.scopes.has(s)],
    ["narrow.scope.subject", (s: string) => b.subject.scopes?.has(s) ?? true],
    ["narrow.scope.task", (s: string) => b.task?.ceiling.includes(s) ?? true],
    ["narrow.scope.delegator", (s: string) => b.delegators.every((d) => d.scopes.has(s))],
  ] as [string, (s: string) => boolean][];
}

/** The rules a request breaks, by the facts of the draw; empty means it must be issued. */
function brokenRules(
  b: Bounds,
  scopes: readonly string[],
  inBounds: [string, (s: string) => boolean][],
  chain: readonly string[],
  exp: number,
): Set<string> {
  const broken = new Set<string>();
  if (scopes.length === 0) broken.add("narrow.scope.none");
  for (const s of scopes) for (const [rule, holds] of inBounds) if (!holds(s)) broken.add(rule);
  if (new Set(chain).size !== chain.length) broken.add("chain.cycle");
  if (chain.length > b.policy.broker.maxDepth) broken.add("chain.depth");
  if (exp <= NOW) broken.add("subject.expired");
  return broken;
}

const CODE_OF = (rule: string) =>
  rule.startsWith("narrow.scope.") ? "invalid_scope" : "invalid_request";

function checkRefusal(outcome: Outcome, broken: ReadonlySet<string>) {
  claim("refusal" in outcome, '"refusal" in outcome');
  if (!("refusal" in outcome)) return;
  const { refusal } = outcome;
  claim(refusal.status === 400, "refusal.status === 400");
  claim([...broken].includes(refusal.rule), "[...broken] contains refusal.rule");
  claim(refusal.code === CODE_OF(refusal.rule), "refusal.code === CODE_OF(refusal.rule)");
}

/** Soundness, stated directly on an issued grant: every bound of rules 1, 2 and 4. */
function checkIssued(grant: Grant, b: Bounds, requested: readonly string[]) {
  for (const s of grant.scopes) {
    claim(requested.includes(s), "requested contains s");
    claim(b.agent.scopes.has(s), "b.agent.scopes.has(s)");
    if (b.subject.scopes) claim(b.subject.scopes.has(s), "b.subject.scopes.has(s)");
    if (b.task) claim(b.task.ceiling.includes(s), "b.task.ceiling contains s");
    for (const d of b.delegators) claim(d.scopes.has(s), "d.scopes.has(s)");
  }
  claim(grant.exp > NOW, "grant.exp > NOW");
  claim(grant.exp <= b.subject.exp, "grant.exp <= b.subject.exp");
  claim(grant.exp <= NOW + b.policy.broker.maxTtl, "grant.exp <= NOW + b.policy.broker.maxTtl");
  if (b.task) claim(grant.exp <= b.task.deadline, "grant.exp <= b.task.deadline");
  same(grant.chain, [b.agent.id, ...b.subject.chain]);
  claim(
    new Set(grant.chain).size === grant.chain.length,
    "new Set(grant.chain).size === grant.chain.length",
  );
  claim(
    grant.chain.length <= b.policy.broker.maxDepth,
    "grant.chain.length <= b.policy.broker.maxDepth",
  );
  claim(grant.agent === b.agent, "grant.agent === b.agent");
  claim(grant.txn === b.task?.id, "grant.txn === b.task?.id");
}

function boundsOf(policy: Policy, c: Case): Bounds {
  return {
    policy,
    agent: agent(policy, c.agent),
    subject: subjectOf(c),
    task: taskOf(c),
    delegators: c.chain.map((id) => agent(policy, id)),
  };
}

/** A policy and several cases against it: compiling a policy costs more than planning. */
const drawn = policyDrawArb.chain((draw) =>
  fc.record({
    draw: fc.constant(draw),
    cases: fc.array(caseArb(draw.agents.length), { minLength: PER_POLICY, maxLength: PER_POLICY }),
  }),
);

/**
 * The checks of a case. Not vitest's `expect`: at thousands of cases its cost (tens of µs a
 * call on a busy machine) would be most of the run. A failed check throws; fast-check then
 * shrinks and reports the draw.
 */
function claim(holds: boolean, what: string): void {
  if (!holds) throw new Error(`property violated: ${what}`);
}

/** Canonical JSON: keys sorted, Sets as sorted arrays (an Agent's scopes and edges). */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => {
    if (v instanceof Set) return [...v].sort();
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });

function same(actual: unknown, expected: unknown): void {
  const [a, e] = [canonical(actual), canonical(expected)];
  if (a !== e) throw new Error(`property violated:\n  actual   ${a}\n  expected ${e}`);
}

/** On a failure, the case that failed (fast-check prints the whole draw, not which case). */
function explained(context: () => unknown, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof Error) err.message += `\n${JSON.stringify(context())}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

describe("planner properties (no HTTP)", () => {
  it(`planAccess: issued ⊆ requested ∩ API ∩ agent ∩ subject ∩ ceiling, exp = the least bound, act = the agent around the chain; anything else refused by a broken bound (${RUNS * PER_POLICY} cases)`, () => {
    fc.assert(
      fc.property(drawn, ({ draw, cases }) => {
        const policy = compile(draw);
        for (const c of cases) accessCase(policy, c);
      }),
      { numRuns: RUNS },
    );
  });

  function accessCase(policy: Policy, c: Case): void {
    const b = boundsOf(policy, c);
    const api = c.api as ApiId;
    const inApi: [string, (s: string) => boolean] = [
      "narrow.scope.api",
      (s) => API_OF.get(s) === api,
    ];
    const inBounds = scopeBounds(b, [inApi]);
    const grantable = SCOPES.filter((s) => inBounds.every(([, holds]) => holds(s)));
    const asked = pick(c, grantable);
    const scopes = asked ?? DEFAULT_SCOPES[api];
    const chain = [c.agent, ...c.chain];
    const exp = Math.min(
      NOW + (c.ttl ?? DEFAULT_TTL),
      NOW + API_MAX_TTL[api],
      NOW + MAX_TTL,
      b.subject.exp,
      b.task?.deadline ?? Number.POSITIVE_INFINITY,
    );
    const broken = brokenRules(b, scopes, inBounds, chain, exp);
    const outcome = attempt(() =>
      planAccess(
        policy,
        request(c, { audiences: [api], ...(asked === undefined ? {} : { scopes: asked }) }),
        b.agent,
        b.subject,
        b.task,
        NOW,
        b.delegators,
      ),
    );
    explained(
      () => ({ c, maxDepth: policy.broker.maxDepth, broken: [...broken], outcome }),
      () => {
        if (broken.size > 0) return checkRefusal(outcome, broken);
        claim("grant" in outcome, '"grant" in outcome');
        if (!("grant" in outcome)) return;
        checkIssued(outcome.grant, b, scopes);
        // Exactly as asked, exactly the least bound: nothing dropped, nothing widened.
        same(outcome.grant, {
          kind: "access",
          agent: b.agent,
          chain,
          scopes,
          exp,
          audience: api,
          aud: APIS[api].resource,
          ...(b.task ? { txn: b.task.id } : {}),
        });
      },
    );
  }

  it(`planDelegation: along delegate_to only; issued ⊆ requested ∩ agent ∩ sub-agent ∩ subject ∩ ceiling; the sub-agent could redeem it (${RUNS * PER_POLICY} cases)`, () => {
    fc.assert(
      fc.property(drawn, ({ draw, cases }) => {
        const policy = compile(draw);
        for (const c of cases) delegationCase(policy, c);
      }),
      { numRuns: RUNS },
    );
  });

  function delegationCase(policy: Policy, c: Case): void {
    const b = boundsOf(policy, c);
    const ids = [...policy.agents.keys()];
    const edges = [...b.agent.delegateTo];
    const to = (
      c.offEdge || edges.length === 0 ? ids[c.target % ids.length] : edges[c.target % edges.length]
    ) as string;
    const subAgent = agent(policy, to);
    const inSub: [string, (s: string) => boolean] = [
      "narrow.scope.delegate",
      (s) => subAgent.scopes.has(s),
    ];
    const inBounds = scopeBounds(b, [inSub]);
    const grantable = SCOPES.filter((s) => inBounds.every(([, holds]) => holds(s)));
    const asked = pick(c, grantable);
    const scopes = asked ?? [];
    const chain = [c.agent, ...c.chain];
    const exp = Math.min(
      NOW + (c.ttl ?? DEFAULT_TTL),
      NOW + MAX_TTL,
      b.subject.exp,
      b.task?.deadline ?? Number.POSITIVE_INFINITY,
    );
    const outcome = attempt(() =>
      planDelegation(
        policy,
        request(c, {
          requestedTokenType: TOKEN_TYPE.jwt,
          audiences: [to],
          ...(asked === undefined ? {} : { scopes: asked }),
        }),
        b.agent,
        b.subject,
        b.task,
        NOW,
        b.delegators,
      ),
    );
    explained(
      () => ({ c, to, edges, maxDepth: policy.broker.maxDepth, outcome }),
      () => {
        // Rule 5: off the policy's edges, always refused, whatever else the request is.
        if (!b.agent.delegateTo.has(to)) {
          same(outcome, {
            refusal: { code: "invalid_target", status: 400, rule: "delegate.edge" },
          });
          return;
        }
        const broken = brokenRules(b, scopes, inBounds, chain, exp);
        // Rule 4: refused now what the sub-agent could never redeem.
        const redeemed = [to, ...chain];
        if (new Set(redeemed).size !== redeemed.length) broken.add("chain.cycle");
        if (redeemed.length > policy.broker.maxDepth) broken.add("chain.depth");
        if (broken.size > 0) return checkRefusal(outcome, broken);

        claim("grant" in outcome, '"grant" in outcome');
        if (!("grant" in outcome)) return;
        checkIssued(outcome.grant, b, scopes);
        for (const s of outcome.grant.scopes)
          claim(subAgent.scopes.has(s), "subAgent.scopes.has(s)");
        claim(
          outcome.grant.chain.length + 1 <= policy.broker.maxDepth,
          "outcome.grant.chain.length + 1 <= policy.broker.maxDepth",
        );
        same(outcome.grant, {
          kind: "delegation",
          agent: b.agent,
          chain,
          scopes,
          exp,
          audience: to,
          ...(b.task ? { txn: b.task.id } : {}),
        });
      },
    );
  }

  it(`along random delegation walks, scope and exp never grow and the chain is exactly the actors (${RUNS * PER_POLICY} walks)`, () => {
    const walkArb = (n: number) =>
      fc.record({
        first: fc.constantFrom(...agentIds(n)),
        userScopes: fc.option(fc.subarray(SCOPES, { minLength: 1 }), { nil: undefined }),
        userLife: fc.integer({ min: 60, max: 7200 }),
        steps: fc.array(
          fc.record({ target: fc.nat(), mask: fc.nat(255), ttl: ttlArb, api: apiArb }),
          { minLength: 1, maxLength: 8 },
        ),
      });
    const walks = policyDrawArb.chain((draw) =>
      fc.record({
        draw: fc.constant(draw),
        walks: fc.array(walkArb(draw.agents.length), {
          minLength: PER_POLICY,
          maxLength: PER_POLICY,
        }),
      }),
    );
    fc.assert(
      fc.property(walks, ({ draw, walks }) => {
        const policy = compile(draw);
        for (const walk of walks)
          explained(
            () => walk,
            () => walkOnce(policy, walk),
          );
      }),
      { numRuns: RUNS },
    );
  });

  function walkOnce(
    policy: Policy,
    {
      first,
      userScopes,
      userLife,
      steps,
    }: {
      first: string;
      userScopes: string[] | undefined;
      userLife: number;
      steps: { target: number; mask: number; ttl: number | undefined; api: ApiId }[];
    },
  ): void {
    let subject: Subject = {
      source: "dev",
      sub: USER,
      chain: [],
      exp: NOW + userLife,
      ...(userScopes === undefined ? {} : { scopes: new Set(userScopes) }),
    };
    let holder = agent(policy, first);
    const actors: string[] = [];
    for (const step of steps) {
      const delegators = subject.chain.map((id) => agent(policy, id));
      // Every access token the holder could ask for on the way: inside what it holds.
      const access = attempt(() =>
        planAccess(
          policy,
          request({ ttl: step.ttl } as Case, { audiences: [step.api] }),
          holder,
          subject,
          undefined,
          NOW,
          delegators,
        ),
      );
      if ("grant" in access) {
        for (const s of access.grant.scopes) {
          if (subject.scopes) claim(subject.scopes.has(s), "subject.scopes.has(s)");
        }
        claim(access.grant.exp <= subject.exp, "access.grant.exp <= subject.exp");
        same(access.grant.chain, [holder.id, ...actors]);
      } else {
        claim(access.refusal.status === 400, "access.refusal.status === 400");
      }

      const edges = [...holder.delegateTo];
      if (edges.length === 0) break;
      const to = agent(policy, edges[step.target % edges.length] as string);
      const can = SCOPES.filter(
        (s) =>
          holder.scopes.has(s) &&
          to.scopes.has(s) &&
          (subject.scopes?.has(s) ?? true) &&
          delegators.every((d) => d.scopes.has(s)),
      );
      const asked = can.filter((_, i) => (step.mask >> i) & 1);
      const next = attempt(() =>
        planDelegation(
          policy,
          request({ ttl: step.ttl } as Case, {
            requestedTokenType: TOKEN_TYPE.jwt,
            audiences: [to.id],
            scopes: asked.length > 0 ? asked : can.slice(0, 1),
          }),
          holder,
          subject,
          undefined,
          NOW,
          delegators,
        ),
      );
      if ("refusal" in next) {
        // Only what the rules name: nothing to pass on, a cycle, or the depth.
        claim(next.refusal.status === 400, "next.refusal.status === 400");
        claim(
          can.length === 0 ||
            [holder.id, ...actors].includes(to.id) ||
            actors.length + 2 > policy.broker.maxDepth,
          `a delegation refused only for a rule: ${canonical(next.refusal)}`,
        );
        break;
      }
      const { grant } = next;
      // Scope and exp never grow; the chain is exactly the actors, current first.
      for (const s of grant.scopes) {
        if (subject.scopes) claim(subject.scopes.has(s), "subject.scopes.has(s)");
        claim(holder.scopes.has(s) && to.scopes.has(s), "holder.scopes.has(s) && to.scopes.has(s)");
      }
      claim(grant.exp <= subject.exp, "grant.exp <= subject.exp");
      actors.unshift(holder.id);
      same(grant.chain, actors);
      claim(
        new Set(grant.chain).size === grant.chain.length,
        "new Set(grant.chain).size === grant.chain.length",
      );
      claim(
        grant.chain.length + 1 <= policy.broker.maxDepth,
        "grant.chain.length + 1 <= policy.broker.maxDepth",
      );
      subject = {
        source: "delegation",
        sub: USER,
        chain: grant.chain,
        scopes: new Set(grant.scopes),
        exp: grant.exp,
        mayAct: to.id,
      };
      holder = to;
    }
  }
});
