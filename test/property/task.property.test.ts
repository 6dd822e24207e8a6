/**
 * Property test of tasks (design §2, §4 rules 1, 2, 7; issue 4 "done when").
 *
 * Each run draws a policy (four to six agents with random scopes and delegate_to edges, a
 * random max_depth and task caps), opens a task over HTTP (`POST /tasks`) with a random
 * ceiling inside the opener's scopes (none elevated: such a ceiling waits for a human first),
 * a random budget and ttl, and then walks a random tree: the opener enters with `task_id`,
 * tokens are delegated down random edges and redeemed for access tokens, with random scopes
 * (often just outside the ceiling), ttl_seconds and clock advances, sometimes past the
 * deadline. A small model predicts every step:
 *
 * - a step the model allows must succeed, with exactly the predicted scope, `exp`, `act` and
 *   `txn`, until the budget is spent; then it is refused with invalid_request;
 * - a step that breaks a rule is refused with 400 and one of the codes of the rules it breaks,
 *   and nothing is issued; nothing is ever a 5xx;
 * - and, stated directly: every issued token's scope ⊆ the ceiling, its `exp` ≤ the deadline,
 *   it was issued before the deadline, it carries `txn` = the task id, and the task never has
 *   more than max_tokens tokens;
 * - at the end, `POST /tasks/{id}/end` makes every issued token inactive at introspection and
 *   useless as a subject token.
 *
 * One broker serves every run; each run swaps its policy in, as a hot reload would.
 *
 * This is the thin HTTP variant: the same rules run thousands of times against the planners
 * themselves in planner.property.test.ts; a deeper run here: the environment variable below.
 */

import fc from "fast-check";
import { decodeJwt } from "jose";
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
import {
  type AgentCredentials,
  exchange,
  type Form,
  issuedCount,
  OAUTH_ERROR_CODES,
  postForm,
} from "../helpers/assertions.js";
import { sha256Hex, startTestBroker, type TestBroker, TOKEN_TYPE } from "../helpers/broker.js";

const USER = "alice@example.com";
const credentials = (id: string): AgentCredentials => ({ id, secret: `${id}-task-secret` });
/** Well-formed, never issued: names no task. */
const UNKNOWN_TASK = `tsk_${"Q".repeat(22)}`;

const DEFAULT_MAX_TASK_TTL = 8 * 3600;
const DEFAULT_MAX_TASK_TOKENS = 1000;

// ---------------------------------------------------------------------------------------------
// What is drawn

interface PolicyDraw {
  readonly maxDepth: number;
  /** Seconds; undefined leaves the broker's default (8h). */
  readonly maxTaskTtl?: number;
  /** Undefined leaves the broker's default (1000). */
  readonly maxTaskTokens?: number;
  readonly agents: readonly { readonly scopes: string[]; readonly delegateTo: string[] }[];
}

const agentIds = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);

const policyArb: fc.Arbitrary<PolicyDraw> = fc.integer({ min: 4, max: 6 }).chain((n) =>
  fc.record(
    {
      maxDepth: fc.constantFrom(2, 3, 4, 4, 5, 5),
      maxTaskTtl: fc.constantFrom(300, 900, 1800, 3600),
      maxTaskTokens: fc.integer({ min: 1, max: 8 }),
      agents: fc.array(
        fc.record({
          // Mostly broad agents and several edges, so that deep trees happen often enough.
          scopes: fc.subarray(SCOPES, { minLength: 3 }),
          delegateTo: fc.subarray(agentIds(n), { minLength: 2 }),
        }),
        { minLength: n, maxLength: n },
      ),
    },
    { requiredKeys: ["maxDepth", "agents"] },
  ),
);

const taskArb = fc.record({
  /** Picks the ceiling among the opener's scopes that are not elevated. */
  ceilingMask: fc.oneof(fc.constant(63), fc.integer({ min: 1, max: 62 })),
  /** First ask for a ceiling with a scope the opener may not hold: refused. */
  overreach: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  ttl: fc.option(fc.integer({ min: 120, max: 7200 }), { nil: undefined, freq: 4 }),
  maxTokens: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined, freq: 8 }),
  /** The user's token lifetime: sometimes sooner than the task's ttl. */
  userTtl: fc.integer({ min: 300, max: 7200 }),
});
type TaskDraw = typeof taskArb extends fc.Arbitrary<infer T> ? T : never;

const stepArb = fc.record({
  /** Which held subject token the step starts from: usually the newest, so trees grow deep. */
  from: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 2, arbitrary: fc.nat() }),
  kind: fc.constantFrom("delegate", "delegate", "access") as fc.Arbitrary<"delegate" | "access">,
  /** A step by another agent than the token's holder (or than the opener). */
  rogue: fc.integer({ min: 0, max: 11 }).map((n) => n === 0),
  rogueActor: fc.nat(),
  /** Picks the sub-agent: along the actor's edges unless `offEdge`. */
  target: fc.nat(),
  offEdge: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  api: apiArb,
  /**
   * `fit`: a subset of what could be granted; `outside`: that plus a scope everything but the
   * ceiling allows; `random`: any scopes; `none`: no scope parameter.
   */
  scopeMode: fc.constantFrom("fit", "fit", "fit", "fit", "outside", "outside", "random", "none"),
  /** Picks a subset of what fits: often all of it, so that deep tokens still hold something. */
  mask: fc.oneof(fc.constant(63), fc.nat(63)),
  randomScopes: randomScopesArb,
  ttl: ttlArb,
  /** `auto`: the opener names the task, a delegation token carries it; `same`: name it again too. */
  taskId: fc.constantFrom(..."auto ".repeat(8).trim().split(" "), "same", "same", "unknown"),
  /** Seconds the clock moves after the step, or to just past the deadline. */
  advance: fc.oneof(
    { weight: 30, arbitrary: fc.integer({ min: 0, max: 60 }).map((by) => ({ by })) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 600 }).map((by) => ({ by })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }).map((past) => ({ past })) },
  ),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------
// The model

interface Model {
  readonly agents: readonly string[];
  readonly opener: string;
  readonly maxDepth: number;
  readonly scopes: ReadonlyMap<string, ReadonlySet<string>>;
  readonly edges: ReadonlyMap<string, readonly string[]>;
}

interface Task {
  readonly id: string;
  readonly ceiling: ReadonlySet<string>;
  readonly deadline: number;
  readonly maxTokens: number;
}

/** A subject token held by someone in the tree. */
interface Held {
  readonly token: string;
  /** The user's own token: entered with `task_id`, by the opener only. */
  readonly root: boolean;
  /** Prior actors, current first. */
  readonly chain: readonly string[];
  /** Undefined when the token does not bound scope (the user's token). */
  readonly scopes?: ReadonlySet<string>;
  readonly exp: number;
  /** `may_act` of a delegation token. */
  readonly holder?: string;
}

interface Plan {
  readonly actor: string;
  readonly form: Form;
  /** The error codes of the rules this request breaks: empty means it may succeed. */
  readonly violations: ReadonlySet<string>;
  readonly scopes: readonly string[];
  readonly chain: readonly string[];
  readonly exp: number;
  readonly subAgent?: string;
  readonly api?: ApiId;
}

/** The drawn edges of agent `i`; the policy refuses an edge to oneself. */
const edgesOf = (draw: PolicyDraw, i: number): string[] =>
  (draw.agents[i]?.delegateTo ?? []).filter((to) => to !== `a${i}`);

function toModel(draw: PolicyDraw): Model {
  const agents = agentIds(draw.agents.length);
  return {
    agents,
    opener: "a0",
    maxDepth: draw.maxDepth,
    scopes: new Map(agents.map((id, i) => [id, new Set(draw.agents[i]?.scopes)])),
    edges: new Map(agents.map((id, i) => [id, edgesOf(draw, i)])),
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
      ...(draw.maxTaskTtl === undefined ? {} : { max_task_ttl: `${draw.maxTaskTtl}s` }),
      ...(draw.maxTaskTokens === undefined ? {} : { max_task_tokens: draw.maxTaskTokens }),
    },
    apis: APIS,
    agents: Object.fromEntries(
      draw.agents.map((agent, i) => [
        `a${i}`,
        {
          secret_sha256: sha256Hex(credentials(`a${i}`).secret),
          scopes: agent.scopes,
          delegate_to: edgesOf(draw, i),
        },
      ]),
    ),
  };
}

/** Decides the request of a step and predicts its outcome from the rules of design §4. */
function plan(model: Model, task: Task, held: Held, step: Step, now: number): Plan {
  const owner = held.root ? model.opener : (held.holder as string);
  const actor = step.rogue
    ? (model.agents[step.rogueActor % model.agents.length] as string)
    : owner;
  const mine = model.scopes.get(actor) ?? new Set<string>();
  const violations = new Set<string>();
  // The subject: unexpired, and a delegation token only in the hands of its may_act.
  if (held.exp <= now) violations.add("invalid_request");
  if (held.holder !== undefined && held.holder !== actor) violations.add("invalid_request");
  // The task: known, the same as the token's, before its deadline, entered by its opener only.
  const taskId =
    step.taskId === "unknown"
      ? UNKNOWN_TASK
      : held.root || step.taskId === "same"
        ? task.id
        : undefined;
  if (taskId !== undefined && taskId !== task.id) violations.add("invalid_request");
  if (now >= task.deadline) violations.add("invalid_request");
  if (held.root && actor !== model.opener) violations.add("invalid_request");
  // Rule 4: the actor wraps the chain; no cycle, at most max_depth.
  const chain = [actor, ...held.chain];
  if (held.chain.includes(actor) || chain.length > model.maxDepth)
    violations.add("invalid_request");

  const common = (s: string) => mine.has(s) && (held.scopes?.has(s) ?? true);
  const inTask = (s: string) => common(s) && task.ceiling.has(s);
  const base = {
    subject_token: held.token,
    ...(taskId === undefined ? {} : { task_id: taskId }),
    ...(step.ttl === undefined ? {} : { ttl_seconds: String(step.ttl) }),
  };

  if (step.kind === "access") {
    const allowedAt = (api: ApiId, ok: (s: string) => boolean) =>
      SCOPES.filter((s) => API_OF.get(s) === api && !ELEVATED.has(s) && ok(s));
    // A fitting step prefers an API where something can be granted at all; a step reaching
    // outside the ceiling, one where something just outside it exists.
    const apis = [step.api, ...API_IDS.filter((a) => a !== step.api)];
    const api =
      step.scopeMode === "fit"
        ? (apis.find((a) => allowedAt(a, inTask).length > 0) ?? step.api)
        : step.scopeMode === "outside"
          ? (apis.find((a) => outsideOf(allowedAt(a, common), task).length > 0) ?? step.api)
          : step.api;
    const grantable = allowedAt(api, inTask);
    const requested = pickScopes(step, grantable, outsideOf(allowedAt(api, common), task));
    const scopes = requested ?? DEFAULT_SCOPES[api];
    if (scopes.length === 0 || scopes.some((s) => !grantable.includes(s)))
      violations.add("invalid_scope");
    const exp = Math.min(
      now + (step.ttl ?? DEFAULT_TTL),
      now + API_MAX_TTL[api],
      now + MAX_TTL,
      held.exp,
      task.deadline,
    );
    return {
      actor,
      form: { ...base, audience: api, ...scopeParam(requested) },
      violations,
      scopes,
      chain,
      exp,
      api,
    };
  }

  const edges = model.edges.get(actor) ?? [];
  // Mostly an edge to an agent not yet in the chain, so that trees grow deep; off the edges,
  // any agent (a cycle, a non-edge, oneself).
  const fresh = edges.filter((to) => !chain.includes(to));
  const choices = step.offEdge ? model.agents : fresh.length > 0 ? fresh : edges;
  const subAgent = (choices[step.target % Math.max(choices.length, 1)] ??
    model.agents[step.target % model.agents.length]) as string;
  // Rule 5: only along policy edges; rule 4: the sub-agent must be able to redeem it.
  if (!edges.includes(subAgent)) violations.add("invalid_target");
  if (chain.includes(subAgent) || chain.length + 1 > model.maxDepth)
    violations.add("invalid_request");
  const theirs = model.scopes.get(subAgent) ?? new Set<string>();
  const grantable = SCOPES.filter((s) => inTask(s) && theirs.has(s));
  const reachable = SCOPES.filter((s) => common(s) && theirs.has(s));
  const requested = pickScopes(step, grantable, outsideOf(reachable, task));
  const scopes = requested ?? [];
  if (scopes.length === 0 || scopes.some((s) => !grantable.includes(s)))
    violations.add("invalid_scope");
  const exp = Math.min(now + (step.ttl ?? DEFAULT_TTL), now + MAX_TTL, held.exp, task.deadline);
  return {
    actor,
    form: {
      ...base,
      audience: subAgent,
      requested_token_type: TOKEN_TYPE.jwt,
      ...scopeParam(requested),
    },
    violations,
    scopes,
    chain,
    exp,
    subAgent,
  };
}

const outsideOf = (scopes: readonly string[], task: Task) =>
  scopes.filter((s) => !task.ceiling.has(s));

const scopeParam = (scopes: readonly string[] | undefined): Form =>
  scopes === undefined ? {} : { scope: scopes.join(" ") };

/** The scopes a step asks for; undefined sends no `scope` parameter. */
function pickScopes(
  step: Step,
  grantable: readonly string[],
  outside: readonly string[],
): string[] | undefined {
  if (step.scopeMode === "none") return undefined;
  if (step.scopeMode === "random") return step.randomScopes;
  const subset = grantable.filter((_, i) => (step.mask >> i) & 1);
  if (step.scopeMode === "outside" && outside.length > 0) {
    return [...subset, outside[step.mask % outside.length] as string];
  }
  if (grantable.length === 0) return step.randomScopes;
  return subset.length > 0 ? subset : [grantable[0] as string];
}

// ---------------------------------------------------------------------------------------------
// Running a tree

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

/** Everything the task has issued so far, as the test saw it. */
interface Tree {
  readonly tokens: { token: string; exp: number; delegation?: Held }[];
  spent: number;
}

/** Every refusal: a 4xx OAuth error with no token in it, and nothing issued. */
function expectOAuthRefusal(status: number, body: Record<string, unknown>, context: string) {
  expect(status, context).toBeGreaterThanOrEqual(400);
  expect(status, context).toBeLessThan(500);
  expect(OAUTH_ERROR_CODES.has(String(body.error)), context).toBe(true);
  expect(body.access_token, context).toBeUndefined();
}

/** Opens the task over HTTP and checks what it says about itself. */
async function openTask(model: Model, draw: PolicyDraw, t: TaskDraw, user: string): Promise<Task> {
  const now = broker.clock.now();
  const mine = [...(model.scopes.get(model.opener) ?? [])];
  // Without elevated scopes: a ceiling that holds one waits for a human first (rule 6), which
  // is the approval flow's to test. Elevated scopes still come up, as scopes outside it.
  const plain = mine.filter((s) => !ELEVATED.has(s));
  const ceiling = plain.filter((_, i) => (t.ceilingMask >> i) & 1);
  if (ceiling.length === 0) ceiling.push(plain[0] as string);
  const form = (scopes: readonly string[]): Form => ({
    subject_token: user,
    subject_token_type: TOKEN_TYPE.jwt,
    purpose: "Property run",
    scope: scopes.join(" "),
    ...(t.ttl === undefined ? {} : { ttl_seconds: String(t.ttl) }),
    ...(t.maxTokens === undefined ? {} : { max_tokens: String(t.maxTokens) }),
  });

  const foreign = SCOPES.find((s) => !mine.includes(s));
  if (t.overreach && foreign !== undefined) {
    // Rule 1 holds for the ceiling too: never above the opener's own scopes.
    const before = issuedCount(broker);
    const res = await postForm(broker, "/tasks", form([...ceiling, foreign]), credentials("a0"));
    const body = (await res.json()) as Record<string, unknown>;
    expect({ status: res.status, error: body.error }).toEqual({
      status: 400,
      error: "invalid_scope",
    });
    expect(body.task_id).toBeUndefined();
    expect(issuedCount(broker)).toBe(before);
  }

  const res = await postForm(broker, "/tasks", form(ceiling), credentials("a0"));
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(201);
  const maxTaskTtl = draw.maxTaskTtl ?? DEFAULT_MAX_TASK_TTL;
  const cap = draw.maxTaskTokens ?? DEFAULT_MAX_TASK_TOKENS;
  const deadline = Math.min(now + Math.min(t.ttl ?? MAX_TTL, maxTaskTtl), now + t.userTtl);
  const maxTokens = Math.min(t.maxTokens ?? cap, cap);
  expect(body).toMatchObject({
    purpose: "Property run",
    expires_at: deadline,
    max_tokens: maxTokens,
    tokens_left: maxTokens,
    status: "active",
  });
  expect(new Set(body.ceiling as string[])).toEqual(new Set(ceiling));
  expect(String(body.task_id)).toMatch(/^tsk_[A-Za-z0-9_-]{22}$/);
  return { id: String(body.task_id), ceiling: new Set(ceiling), deadline, maxTokens };
}

/** Performs one step against the broker and checks it against the plan and the task. */
async function perform(task: Task, tree: Tree, held: Held, p: Plan, now: number) {
  const before = issuedCount(broker);
  const res = await exchange(broker, p.form, credentials(p.actor));
  const body = (await res.json()) as Record<string, unknown>;
  const context = JSON.stringify({
    status: res.status,
    body,
    violations: [...p.violations],
    spent: tree.spent,
    task: { ...task, ceiling: [...task.ceiling] },
    now,
    actor: p.actor,
    chain: held.chain,
    form: { ...p.form, subject_token: "…" },
  });

  expect(res.status, context).toBeLessThan(500);
  const budgetLeft = tree.spent < task.maxTokens;
  if (p.violations.size > 0 || !budgetLeft) {
    expectOAuthRefusal(res.status, body, context);
    expect(res.status, context).toBe(400);
    // Past the budget, only the budget refuses (rule task.budget): invalid_request.
    expect([...(p.violations.size > 0 ? p.violations : ["invalid_request"])], context).toContain(
      body.error,
    );
    expect(issuedCount(broker), context).toBe(before);
    return;
  }

  expect(res.status, context).toBe(200);
  expect(issuedCount(broker), context).toBe(before + 1);
  tree.spent += 1;
  const token = body.access_token as string;
  const claims = decodeJwt(token);
  const scopes = String(claims.scope).split(" ");

  // The task's bounds, stated directly.
  for (const s of scopes) expect(task.ceiling.has(s), `${s} ⊆ ceiling: ${context}`).toBe(true);
  expect(claims.exp as number, context).toBeLessThanOrEqual(task.deadline);
  expect(now, context).toBeLessThan(task.deadline);
  expect(claims.txn, context).toBe(task.id);
  expect(tree.spent, context).toBeLessThanOrEqual(task.maxTokens);

  // Exactly what the model predicts.
  expect(new Set(scopes), context).toEqual(new Set(p.scopes));
  expect(claims.exp, context).toBe(p.exp);
  expect(readActChain(claims.act), context).toEqual(p.chain);
  expect(claims.sub).toBe(USER);
  expect(claims.may_act, context).toEqual(
    p.subAgent === undefined ? undefined : { sub: p.subAgent },
  );

  const delegation =
    p.subAgent === undefined
      ? undefined
      : {
          token,
          root: false,
          chain: p.chain,
          scopes: new Set(scopes),
          exp: claims.exp as number,
          holder: p.subAgent,
        };
  tree.tokens.push({ token, exp: claims.exp as number, ...(delegation ? { delegation } : {}) });
  return delegation;
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const res = await postForm(broker, "/introspect", { token }, credentials("a0"));
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** Ends the task and checks that nothing of its tree works any more (rule 7). */
async function endAndCheck(model: Model, task: Task, tree: Tree) {
  const now = broker.clock.now();
  // The user's first token may have expired by now; any token of the user ends the task.
  const user = await broker.devToken(USER, { ttl: 600 });
  const subject = { subject_token: user, subject_token_type: TOKEN_TYPE.jwt };

  if (now < task.deadline) {
    // The budget as the task reports it matches what was issued.
    const res = await postForm(
      broker,
      "/whoami",
      { ...subject, task_id: task.id },
      credentials("a0"),
    );
    const body = (await res.json()) as { task?: Record<string, unknown> };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.task).toMatchObject({
      task_id: task.id,
      tokens_left: task.maxTokens - tree.spent,
      status: "active",
    });
  }

  // Before: every token still alive is active, and says which task it belongs to.
  for (const { token, exp } of tree.tokens) {
    const seen = await introspect(token);
    expect(seen.active, `exp ${exp}, now ${now}`).toBe(exp > now);
    if (seen.active) expect(seen.txn).toBe(task.id);
  }

  const res = await postForm(broker, `/tasks/${task.id}/end`, subject, credentials("a0"));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ task_id: task.id, revoked: true });

  // After: every token of the tree is inactive…
  for (const { token } of tree.tokens) expect(await introspect(token)).toEqual({ active: false });
  // …no delegation token yields anything, and the opener cannot enter the task again.
  const before = issuedCount(broker);
  for (const { delegation } of tree.tokens) {
    if (!delegation?.holder) continue;
    const res = await exchange(
      broker,
      {
        subject_token: delegation.token,
        audience: API_OF.get([...(delegation.scopes ?? [])][0] as string) as string,
        scope: [...(delegation.scopes ?? [])][0] as string,
      },
      credentials(delegation.holder),
    );
    const body = (await res.json()) as Record<string, unknown>;
    expectOAuthRefusal(res.status, body, JSON.stringify(body));
    expect(body.error).toBe("invalid_request");
  }
  const reenter = await exchange(
    broker,
    { ...subject, task_id: task.id, audience: "calendar", scope: "calendar.read" },
    credentials(model.opener),
  );
  const body = (await reenter.json()) as Record<string, unknown>;
  expect({ status: reenter.status, error: body.error }).toEqual({
    status: 400,
    error: "invalid_request",
  });
  expect(issuedCount(broker)).toBe(before);
}

it("inside random task trees, no token leaves the ceiling, outlives the deadline or overruns the budget; end_task ends them all", async () => {
  await fc.assert(
    fc.asyncProperty(
      policyArb,
      taskArb,
      fc.array(stepArb, { minLength: 1, maxLength: 14 }),
      async (draw, t, steps) => {
        broker.setPolicy(compilePolicy([{ file: "task-property.yaml", data: policyData(draw) }]));
        const model = toModel(draw);
        const user = await broker.devToken(USER, { ttl: t.userTtl });
        const task = await openTask(model, draw, t, user);
        const eventsBefore = broker.events.length;

        const tree: Tree = { tokens: [], spent: 0 };
        const held: Held[] = [
          { token: user, root: true, chain: [], exp: broker.clock.now() + t.userTtl },
        ];
        for (const step of steps) {
          const now = broker.clock.now();
          const from = held.at(step.from < 0 ? -1 : step.from % held.length) as Held;
          const delegation = await perform(
            task,
            tree,
            from,
            plan(model, task, from, step, now),
            now,
          );
          if (delegation) held.push(delegation);
          if ("past" in step.advance) {
            broker.clock.advance(Math.max(task.deadline - now, 0) + step.advance.past);
          } else {
            broker.clock.advance(step.advance.by);
          }
        }

        // The budget, counted from the audit log: every token issued in the run is the task's.
        const issued = broker.events
          .slice(eventsBefore)
          .filter((e) => e.type === "exchange.issued");
        expect(issued.length).toBe(tree.spent);
        expect(issued.length).toBeLessThanOrEqual(task.maxTokens);
        for (const e of issued) expect(e.type === "exchange.issued" && e.txn).toBe(task.id);

        await endAndCheck(model, task, tree);
      },
    ),
    { numRuns: Number(process.env.TASK_PROPERTY_RUNS ?? 12) },
  );
}, 120_000);
