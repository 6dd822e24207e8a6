/**
 * Issue 16 item 6: an agent-followable test. A model-free scripted agent plays the trip story
 * over `/mcp` of a real broker (Streamable HTTP, SDK clients): the orchestrator for alice, and
 * flight-booker (`delegated_only`) on the delegation token it is handed. From each wrong first
 * attempt it reads ONLY the refusal's structured `error` and `hint`, parses the next tool and
 * the values to use out of the hint text, and must reach the story's 8 successful calls with
 * nothing extra issued. The human (alice) deciding on the approval page is the test, not the
 * agent.
 *
 * The story's 8 successful calls (the demo's `book-trip`: its ceiling holds the elevated
 * `flights.book`, approved once for the whole task):
 *   1. orchestrator whoami                          → the templates
 *   2. orchestrator start_task template book-trip   → approval_required (alice approves)
 *   3. orchestrator approval_status                 → approved
 *   4. orchestrator request_token calendar.read, task_id
 *   5. orchestrator delegate flight-booker flights.search flights.book, task_id
 *   6. flight-booker request_token flights.search, subject_token
 *   7. flight-booker request_token flights.book, subject_token (inside the approved ceiling)
 *   8. orchestrator end_task
 * Issued: 4 tokens (calendar, delegation, search, book).
 */

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideAs } from "../helpers/approvals.js";
import { issuedCount } from "../helpers/assertions.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ALICE, callTool, connectHttp, TOOL_NAMES } from "../helpers/mcp.js";

type Actor = "orchestrator" | "flight-booker";
type Args = Record<string, any>;

interface Call {
  readonly actor: Actor;
  readonly tool: string;
  readonly args: Args;
}

/** What the agent remembers between calls: only what results (never hints) handed it. */
interface Memory {
  templates: string[];
  taskId?: string;
  approvalId?: string;
  /** The delegation token flight-booker was handed by the orchestrator. */
  handed?: string;
}

interface Step {
  readonly actor: Actor;
  readonly tool: string;
  args(memory: Memory): Args;
  onOk?(memory: Memory, out: Args): Promise<void> | void;
}

let broker: TestBroker;
const clients: Client[] = [];

/** The human deciding on the approval page (signed in as alice): not the agent. */
const approveAsAlice = (id: string) => decideAs(broker, ALICE, id, "approve");

/** The trip story, as the agent's plan. */
const STORY: readonly Step[] = [
  {
    actor: "orchestrator",
    tool: "whoami",
    args: () => ({}),
    onOk: (m, out) => {
      m.templates = (out.templates as { id: string }[]).map((t) => t.id);
    },
  },
  {
    actor: "orchestrator",
    tool: "start_task",
    // A plan from discovery: the template about trips, else the first offered.
    args: (m) => ({
      purpose: "Plan alice's trip to Lisbon",
      template: m.templates.find((t) => t.includes("trip")) ?? m.templates[0],
    }),
    onOk: async (m, out) => {
      m.taskId = out.task_id;
      expect(out.status).toBe("approval_required");
      // The hint says to show approve_url to the user: the user decides there.
      expect(out.hint).toContain("approve_url");
      m.approvalId = out.approval_id;
      await approveAsAlice(out.approval_id);
    },
  },
  {
    actor: "orchestrator",
    tool: "approval_status",
    args: (m) => ({ approval_id: m.approvalId }),
    onOk: (_m, out) => {
      expect(out.status).toBe("approved");
    },
  },
  {
    actor: "orchestrator",
    tool: "request_token",
    args: (m) => ({ api: "calendar", scopes: ["calendar.read"], task_id: m.taskId }),
  },
  {
    actor: "orchestrator",
    tool: "delegate",
    args: (m) => ({
      to_agent: "flight-booker",
      scopes: ["flights.search", "flights.book"],
      task_id: m.taskId,
    }),
    onOk: (m, out) => {
      m.handed = out.delegation_token;
    },
  },
  {
    actor: "flight-booker",
    tool: "request_token",
    args: (m) => ({ api: "flights", scopes: ["flights.search"], subject_token: m.handed }),
  },
  {
    actor: "flight-booker",
    tool: "request_token",
    args: (m) => ({ api: "flights", scopes: ["flights.book"], subject_token: m.handed }),
  },
  {
    actor: "orchestrator",
    tool: "end_task",
    args: (m) => ({ task_id: m.taskId }),
  },
];

/** The tools a hint tells the agent to call, in the order the hint names them. */
function namedTools(hint: string): string[] {
  const named: { tool: string; at: number }[] = [];
  for (const tool of TOOL_NAMES) {
    const at = hint.search(new RegExp(`\\b(call|Call) ${tool}\\b`));
    if (at >= 0) named.push({ tool, at });
  }
  return named.sort((a, b) => a.at - b.at).map((n) => n.tool);
}

/** A comma-separated list of ids or scopes after `label` in the hint. */
function listAfter(hint: string, label: string): string[] | undefined {
  const item = "[\\w-]+(?:\\.[\\w-]+)*";
  const match = new RegExp(`${label} (${item}(?:, ${item})*)`).exec(hint);
  return match?.[1]?.split(", ");
}

/** Bigram overlap: which listed value a model would take for the one it got wrong. */
function closest(values: readonly string[], wrong: string): string | undefined {
  const grams = (s: string) => new Set([...s].slice(1).map((c, i) => `${s[i]}${c}`));
  const of = grams(wrong);
  const score = (v: string) => [...grams(v)].filter((g) => of.has(g)).length;
  return [...values].sort((a, b) => score(b) - score(a))[0];
}

/**
 * The next arguments for the same tool, from the hint text alone (plus what the agent holds:
 * the delegation token it was handed). Undefined when the hint gives nothing to change.
 */
function follow(hint: string, args: Args, memory: Memory): Args | undefined {
  const next: Args = { ...args };
  let changed = false;
  const templates = listAfter(hint, "template one of:");
  if (templates) {
    next.template = closest(templates, String(args.template));
    changed = true;
  }
  const apis = listAfter(hint, "api one of:");
  if (apis) {
    const wanted = (args.scopes as string[] | undefined)?.[0] ?? "";
    next.api = apis.find((a) => wanted.startsWith(`${a}.`)) ?? closest(apis, String(args.api));
    changed = true;
  }
  const api = /with api ([\w-]+) and scopes from/.exec(hint)?.[1];
  if (api) {
    next.api = api;
    changed = true;
  }
  const scopes = listAfter(hint, "scopes from:");
  if (scopes) {
    const kept = (args.scopes as string[]).filter((s) => scopes.includes(s));
    next.scopes = kept.length > 0 ? kept : scopes;
    changed = true;
  }
  if (/without approval_id/.test(hint) && "approval_id" in next) {
    delete next.approval_id;
    changed = true;
  }
  if (/without task_id/.test(hint) && "task_id" in next) {
    delete next.task_id;
    changed = true;
  }
  if (/as subject_token/.test(hint) && memory.handed !== undefined) {
    next.subject_token = memory.handed;
    changed = true;
  }
  return changed ? next : undefined;
}

interface Refused {
  readonly call: Call;
  readonly error: string;
  readonly hint: string;
  /** The tools the hint names, in its order. */
  readonly named: string[];
}

interface Run {
  /** Successful calls, as `actor tool`. */
  readonly successes: string[];
  readonly refusals: Refused[];
  /** Tokens the broker issued during the run. */
  readonly issued: number;
  readonly memory: Memory;
}

/**
 * The agent: walks the plan; a refusal's hint either fixes the same call (its values), or
 * names another step of the plan (the earliest one, from the beginning) to go to. `wrong` is
 * the first attempt at step `at`, made instead of the plan's own.
 */
async function runAgent(sessions: Record<Actor, Client>, wrong?: WrongStart): Promise<Run> {
  const memory: Memory = { templates: [] };
  const successes: string[] = [];
  const refusals: Refused[] = [];
  const before = issuedCount(broker);
  let cursor = 0;
  let pending: Call | undefined;
  if (wrong) {
    // The steps before the wrong attempt, done as planned.
    for (; cursor < wrong.at; cursor++) {
      const step = STORY[cursor] as Step;
      const outcome = await callTool(sessions[step.actor], step.tool, step.args(memory));
      expect(outcome.isError, outcome.text).toBe(false);
      successes.push(`${step.actor} ${step.tool}`);
      await step.onOk?.(memory, outcome.out);
    }
    pending = await wrong.first(memory);
  }
  for (let turns = 0; cursor < STORY.length; turns++) {
    expect(turns, "the agent loops").toBeLessThan(20);
    const step = STORY[cursor] as Step;
    const call: Call = pending ?? { actor: step.actor, tool: step.tool, args: step.args(memory) };
    pending = undefined;
    const outcome = await callTool(sessions[call.actor], call.tool, call.args);
    if (!outcome.isError) {
      expect(call.tool, "a success moves the plan on only at its own step").toBe(step.tool);
      successes.push(`${call.actor} ${call.tool}`);
      await step.onOk?.(memory, outcome.out);
      cursor++;
      continue;
    }
    // ONLY the refusal's structured error code and hint.
    const { error, hint } = outcome.out as { error: string; hint: string };
    const named = namedTools(hint);
    refusals.push({ call, error, hint, named });
    expect(named.length, `a hint a script can follow: ${hint}`).toBeGreaterThan(0);
    if (named[0] === call.tool) {
      const args = follow(hint, call.args, memory);
      expect(args, `the hint's values for ${call.tool}: ${hint}`).toBeDefined();
      pending = { ...call, args: args as Args };
      continue;
    }
    // Another call first: the earliest step of the plan the hint names.
    const to = STORY.findIndex((s) => named.includes(s.tool));
    expect(to, `a step of the plan the hint names: ${hint}`).toBeGreaterThanOrEqual(0);
    cursor = to;
  }
  return { successes, refusals, issued: issuedCount(broker) - before, memory };
}

interface WrongStart {
  readonly name: string;
  /** The story step whose first attempt is wrong. */
  readonly at: number;
  first(memory: Memory): Call | Promise<Call>;
  /** The refusals the agent must meet: the error code and the tool the hint names first. */
  readonly expected: readonly { error: string; next: string }[];
}

const THE_STORY = [
  "orchestrator whoami",
  "orchestrator start_task",
  "orchestrator approval_status",
  "orchestrator request_token",
  "orchestrator delegate",
  "flight-booker request_token",
  "flight-booker request_token",
  "orchestrator end_task",
];

/** Set in beforeAll: last trip, ended, and an approval alice gave then, already used. */
let lastTrip: { taskId: string; usedApproval: string };

const WRONG_STARTS: readonly WrongStart[] = [
  {
    name: "wrong template name",
    at: 1,
    first: () => ({
      actor: "orchestrator",
      tool: "start_task",
      args: { purpose: "Plan alice's trip to Lisbon", template: "trip-booking" },
    }),
    expected: [{ error: "invalid_request", next: "start_task" }],
  },
  {
    name: "too-broad delegation scopes",
    at: 4,
    first: (m) => ({
      actor: "orchestrator",
      tool: "delegate",
      args: {
        to_agent: "flight-booker",
        scopes: ["flights.search", "flights.book", "calendar.read"],
        task_id: m.taskId,
      },
    }),
    expected: [{ error: "invalid_scope", next: "delegate" }],
  },
  {
    name: "reusing a consumed approval_id",
    at: 6,
    // Last trip's approval, already redeemed, passed along with the booking. Inside a task whose
    // ceiling alice approved, the standing approval covers the grant: the broker does not read
    // approval_id there, so there is nothing to refuse and the story goes on (outside a task,
    // the same id is refused `approval.used`: the hint test covers that hint).
    first: (m) => ({
      actor: "flight-booker",
      tool: "request_token",
      args: {
        api: "flights",
        scopes: ["flights.book"],
        subject_token: m.handed,
        approval_id: lastTrip.usedApproval,
      },
    }),
    expected: [],
  },
  {
    name: "flight-booker calls request_token without subject_token",
    at: 5,
    first: () => ({
      actor: "flight-booker",
      tool: "request_token",
      args: { api: "flights", scopes: ["flights.search"] },
    }),
    expected: [{ error: "invalid_request", next: "request_token" }],
  },
  {
    name: "request_token with a task_id after end_task",
    at: 0,
    // Picking up last trip's task, ended since.
    first: () => ({
      actor: "orchestrator",
      tool: "request_token",
      args: { api: "calendar", scopes: ["calendar.read"], task_id: lastTrip.taskId },
    }),
    expected: [{ error: "invalid_request", next: "start_task" }],
  },
  {
    name: "a scope outside the API",
    at: 3,
    first: (m) => ({
      actor: "orchestrator",
      tool: "request_token",
      args: { api: "calendar", scopes: ["calendar.read", "flights.search"], task_id: m.taskId },
    }),
    expected: [{ error: "invalid_scope", next: "request_token" }],
  },
  {
    name: "an unknown API id",
    at: 3,
    first: (m) => ({
      actor: "orchestrator",
      tool: "request_token",
      args: { api: "calender", scopes: ["calendar.read"], task_id: m.taskId },
    }),
    expected: [{ error: "invalid_target", next: "request_token" }],
  },
];

async function sessions(): Promise<Record<Actor, Client>> {
  const open = async (agent: Actor) => {
    const client = await connectHttp(broker.url, await broker.devToken(ALICE, { agent }));
    clients.push(client);
    return client;
  };
  return { orchestrator: await open("orchestrator"), "flight-booker": await open("flight-booker") };
}

beforeAll(async () => {
  broker = await startTestBroker({
    editPolicy: (data) => {
      // The demo's tasks.yaml and flight-booker, on the test policy's agents and APIs.
      data.tasks = {
        "book-trip": {
          description: "Find a flight that fits the traveller's calendar and book it",
          ceiling: ["flights.search", "flights.book", "calendar.read"],
          max_ttl: "30m",
          max_tokens: 50,
          approval: "subject",
        },
        reading: {
          description: "Read up before a trip",
          ceiling: ["calendar.read", "docs.read"],
          max_ttl: "20m",
        },
      };
      data.agents["flight-booker"].delegated_only = true;
    },
  });
  // Last trip: the story, start to end, then a booking alice approved on its own, redeemed.
  const last = await sessions();
  const run = await runAgent(last);
  expect(run.successes).toEqual(THE_STORY);
  const book = { api: "flights", scopes: ["flights.book"] };
  const pending = await callTool(last.orchestrator, "request_token", book);
  expect(pending.out.status).toBe("approval_required");
  await approveAsAlice(pending.out.approval_id);
  const redeemed = await callTool(last.orchestrator, "request_token", {
    ...book,
    approval_id: pending.out.approval_id,
  });
  expect(redeemed.isError, redeemed.text).toBe(false);
  lastTrip = { taskId: String(run.memory.taskId), usedApproval: pending.out.approval_id };
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await broker?.close();
});

describe("a scripted agent follows the hints from every wrong start to the trip story", () => {
  it("without a wrong start: the story's 8 calls, 4 tokens, no refusal", async () => {
    const run = await runAgent(await sessions());
    expect(run.refusals).toEqual([]);
    expect(run.successes).toEqual(THE_STORY);
    expect(run.issued).toBe(4);
  });

  it.each(WRONG_STARTS.map((w) => [w.name, w] as const))("%s", async (_name, wrong) => {
    const run = await runAgent(await sessions(), wrong);
    // (a) each refusal's hint names the right next call.
    expect(run.refusals.map((r) => ({ error: r.error, next: r.named[0] }))).toEqual(wrong.expected);
    // (b) the story's 8 successful calls, (c) nothing extra issued.
    expect(run.successes).toEqual(THE_STORY);
    expect(run.issued).toBe(4);
  });
});
