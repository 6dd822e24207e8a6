/**
 * The whole story against a running Baton, told step by step: Alice's token, a task that waits
 * for her approval, an orchestrator and the flight booker it delegates to, two APIs that
 * accept and refuse their tokens, and the end of the task, after which every token is dead.
 *
 *   npm start            # in one terminal: Baton with the demo policies
 *   npm run example      # in another: this story, with the two example APIs in-process
 *
 * It prints what happens, never a token. test/examples/story.test.ts runs it against a fresh
 * `baton serve` and checks every step.
 */

import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { calendarApi } from "./calendar-api.js";
import { BATON_URL, introspectionFor, isMain } from "./demo.js";
import { FLIGHTS, flightsApi } from "./flights-api.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";

/** The demo agents' secrets, documented in policies/agents.yaml. */
const SECRETS: Record<string, string> = {
  orchestrator: process.env.BATON_ORCHESTRATOR_SECRET ?? "orchestrator-secret",
  "flight-booker": process.env.BATON_FLIGHT_BOOKER_SECRET ?? "flight-booker-secret",
};

export interface StoryOptions {
  /** Baton's URL (its issuer). */
  readonly broker: string;
  /** Base URLs of the running example APIs. */
  readonly calendarApi: string;
  readonly flightsApi: string;
  /** Runs `baton <args>` against the same store as the broker; resolves with its stdout. */
  readonly baton: (args: readonly string[]) => Promise<string>;
  readonly user?: string;
}

/** One answer of an example API, as the story saw it. */
export interface ApiAnswer {
  readonly status: number;
  /** The RFC 6750 `error`, on a refusal. */
  readonly error?: string;
  /** The `WWW-Authenticate` header, on a refusal. */
  readonly challenge?: string;
  readonly body: Record<string, unknown>;
}

/** What happened at each step: the test asserts on it. */
export interface StoryResult {
  readonly task: { status: string; task_id: string; approval_id?: string; ceiling: string[] };
  readonly whilePending: { status: number; error: string };
  readonly approved: string;
  readonly calendarRead: ApiAnswer;
  readonly delegationAtApi: ApiAnswer;
  readonly booker: { chain: string[] };
  readonly flightsSearch: ApiAnswer;
  readonly searchTokenBooks: ApiAnswer;
  readonly searchTokenAtCalendar: ApiAnswer;
  readonly booking: ApiAnswer;
  readonly ended: { revoked: boolean };
  readonly afterEnd: { readonly [name: string]: ApiAnswer };
  readonly delegationAfterEnd: { status: number; error: string };
  /** Every token the story held (kept for the test's "no token in any output" check). */
  readonly tokens: readonly string[];
  /** Every API answer body, as text. */
  readonly apiTexts: readonly string[];
}

export async function runStory(
  options: StoryOptions,
  say: (line: string) => void = console.log,
): Promise<StoryResult> {
  const user = options.user ?? "alice@example.com";
  const tokens: string[] = [];
  const apiTexts: string[] = [];
  const keep = (token: string) => {
    tokens.push(token);
    return token;
  };
  const baton = new BatonClient(options.broker);
  const call = async (
    method: "GET" | "POST",
    base: string,
    path: string,
    token: string,
  ): Promise<ApiAnswer> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    apiTexts.push(text);
    const body = JSON.parse(text) as Record<string, unknown>;
    const challenge = res.headers.get("www-authenticate") ?? undefined;
    return {
      status: res.status,
      body,
      ...(typeof body.error === "string" ? { error: body.error } : {}),
      ...(challenge === undefined ? {} : { challenge }),
    };
  };
  // A refusal shows its RFC 6750 challenge when it says more than the code (the scope needed).
  const answer = (a: ApiAnswer) =>
    a.status < 300
      ? `${a.status} ${JSON.stringify(a.body)}`
      : `${a.status} ${a.error}${a.challenge?.includes("scope=") ? `\n     WWW-Authenticate: ${a.challenge}` : ""}`;

  say(
    `Baton at ${options.broker}; calendar API at ${options.calendarApi}, flights API at ${options.flightsApi}.\n`,
  );

  say(`1. ${user} signs in. With no identity provider, Baton's development issuer stands in:`);
  say(`   $ baton dev-token --user ${user}`);
  const subject = keep((await options.baton(["dev-token", "--user", user])).trim());
  say("   → a subject token for her (printed to stdout by the CLI; never shown here).\n");

  say("2. The orchestrator opens a task from the policy template book-trip (POST /tasks).");
  const task = (await baton.post("/tasks", "orchestrator", {
    subject_token: subject,
    subject_token_type: JWT_TYPE,
    template: "book-trip",
    purpose: "Find a flight to Lisbon that fits the calendar, and book it",
  })) as StoryResult["task"];
  say(`   → task ${task.task_id}, ceiling [${task.ceiling.join(", ")}]: ${task.status}.`);
  say(
    `     flights.book is elevated, so ${user} approves the whole ceiling once: ${task.approval_id}.\n`,
  );

  say("3. The orchestrator tries to work in the task before the approval (POST /token):");
  const pending = await baton.exchange("orchestrator", {
    subject_token: subject,
    task_id: task.task_id,
    audience: "calendar",
    scope: "calendar.read",
  });
  const whilePending = { status: pending.status, error: String(pending.body.error) };
  say(`   → ${whilePending.status} ${whilePending.error}: nothing is issued yet.\n`);

  say("4. The operator approves it from the CLI (Alice could also use the page /approvals):");
  say(`   $ baton approvals approve ${task.approval_id}`);
  const approved = (await options.baton(["approvals", "approve", String(task.approval_id)])).trim();
  say(`   ${approved}\n`);

  say("5. The orchestrator takes a calendar.read token in the task and reads the calendar:");
  const calendarToken = keep(
    await baton.token("orchestrator", {
      subject_token: subject,
      task_id: task.task_id,
      audience: "calendar",
      scope: "calendar.read",
    }),
  );
  const calendarRead = await call("GET", options.calendarApi, "/events", calendarToken);
  say(`   GET /events → ${answer(calendarRead)}\n`);

  say("6. It delegates the flights to the flight booker: a delegation token naming flight-booker,");
  say("   narrowed to flights.search and flights.book (requested_token_type=…:jwt).");
  const delegation = keep(
    await baton.token("orchestrator", {
      subject_token: subject,
      task_id: task.task_id,
      requested_token_type: JWT_TYPE,
      audience: "flight-booker",
      scope: "flights.search flights.book",
    }),
  );
  const delegationAtApi = await call("GET", options.flightsApi, "/flights", delegation);
  say("   A delegation token is for Baton only. Shown to the flights API anyway:");
  say(`   GET /flights → ${answer(delegationAtApi)}\n`);

  say("7. The flight booker exchanges it for a flights.search token and searches:");
  const searchToken = keep(
    await baton.token("flight-booker", {
      subject_token: delegation,
      audience: "flights",
      scope: "flights.search",
    }),
  );
  const booker = (await baton.introspect(searchToken)) as { act: unknown };
  const chain = actChain(booker.act);
  const flightsSearch = await call("GET", options.flightsApi, "/flights", searchToken);
  say(`   GET /flights → ${answer(flightsSearch)}`);
  say(
    `   The API decides on the current actor (${chain[0]}); the chain [${chain.join(" ← ")}] is the record.\n`,
  );

  say("8. The APIs refuse what the token does not allow:");
  const searchTokenBooks = await call("POST", options.flightsApi, "/bookings", searchToken);
  say(`   the search token, POST /bookings (needs flights.book) → ${answer(searchTokenBooks)}`);
  const searchTokenAtCalendar = await call("GET", options.calendarApi, "/events", searchToken);
  say(
    `   the same token at the calendar API (aud is ${FLIGHTS}) → ${answer(searchTokenAtCalendar)}\n`,
  );

  say(
    "9. The flight booker asks for flights.book, elevated but inside the approved ceiling, and books:",
  );
  const bookToken = keep(
    await baton.token("flight-booker", {
      subject_token: delegation,
      audience: "flights",
      scope: "flights.book",
    }),
  );
  const booking = await call("POST", options.flightsApi, "/bookings", bookToken);
  say(`   POST /bookings → ${answer(booking)}\n`);

  say(`10. The orchestrator ends the task (POST /tasks/${task.task_id}/end):`);
  const ended = (await baton.post(`/tasks/${task.task_id}/end`, "orchestrator", {
    subject_token: subject,
    subject_token_type: JWT_TYPE,
  })) as { revoked: boolean };
  say(`   → revoked: ${ended.revoked}. Every token of the task's tree is now inactive.\n`);

  say("11. The APIs introspect every token (RFC 7662), so they refuse them at once:");
  const afterEnd = {
    calendarRead: await call("GET", options.calendarApi, "/events", calendarToken),
    flightsSearch: await call("GET", options.flightsApi, "/flights", searchToken),
    booking: await call("POST", options.flightsApi, "/bookings", bookToken),
  };
  say(`   the orchestrator's calendar token, GET /events → ${answer(afterEnd.calendarRead)}`);
  say(`   the booker's search token, GET /flights → ${answer(afterEnd.flightsSearch)}`);
  say(`   the booker's booking token, POST /bookings → ${answer(afterEnd.booking)}`);
  const again = await baton.exchange("flight-booker", {
    subject_token: delegation,
    audience: "flights",
    scope: "flights.search",
  });
  const delegationAfterEnd = { status: again.status, error: String(again.body.error) };
  say(
    `   and the delegation token no longer exchanges: ${delegationAfterEnd.status} ${delegationAfterEnd.error}.`,
  );
  say("\nEvery decision is in Baton's audit log (data/audit.jsonl), each token by its jti only.");
  say(
    `The task's delegation tree, every token in it now revoked: npx baton audit --task ${task.task_id}`,
  );

  return {
    task,
    whilePending,
    approved,
    calendarRead,
    delegationAtApi,
    booker: { chain },
    flightsSearch,
    searchTokenBooks,
    searchTokenAtCalendar,
    booking,
    ended,
    afterEnd,
    delegationAfterEnd,
    tokens,
    apiTexts,
  };
}

/** Baton's OAuth door, as the agents use it: client_secret_basic, form-encoded. */
class BatonClient {
  private readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  async send(path: string, agent: string, form: Record<string, string>) {
    const secret = SECRETS[agent] ?? "";
    const res = await fetch(`${this.url}${path}`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${agent}:${secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(form),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** A request that must succeed; a refusal stops the story with its error code. */
  async post(path: string, agent: string, form: Record<string, string>) {
    const { status, body } = await this.send(path, agent, form);
    if (status >= 300) throw new Error(`${path} as ${agent}: ${status} ${String(body.error)}`);
    return body;
  }

  exchange(agent: string, form: Record<string, string>) {
    return this.send("/token", agent, {
      grant_type: TOKEN_EXCHANGE,
      subject_token_type: JWT_TYPE,
      ...form,
    });
  }

  async token(agent: string, form: Record<string, string>): Promise<string> {
    const { status, body } = await this.exchange(agent, form);
    if (status !== 200) throw new Error(`/token as ${agent}: ${status} ${String(body.error)}`);
    return String(body.access_token);
  }

  introspect(token: string) {
    return this.post("/introspect", "orchestrator", { token });
  }
}

/** RFC 8693 §4.1: the outermost `act` is the current actor. */
function actChain(act: unknown): string[] {
  const chain: string[] = [];
  for (let a = act as { sub?: string; act?: unknown } | undefined; a; a = a.act as typeof a)
    chain.push(String(a.sub));
  return chain;
}

/** `baton <args>` with the built CLI, from the project root (where `npm start` runs). */
function runBaton(args: readonly string[]): Promise<string> {
  const bin = fileURLToPath(new URL("../bin/baton.js", import.meta.url));
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => {
    stdout += c;
  });
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`baton ${args[0]}: ${stderr.trim()}`)),
    );
  });
}

/** Serves an app on a free loopback port; its base URL and a way to stop it. */
export function listen(fetch: (request: Request) => Response | Promise<Response>) {
  return new Promise<{ url: string; close: () => void }>((resolve) => {
    const server = serve({ fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) =>
      resolve({ url: `http://127.0.0.1:${info.port}`, close: () => server.close() }),
    );
  });
}

if (isMain(import.meta.url)) {
  const calendar = await listen(
    calendarApi({ issuer: BATON_URL, introspection: introspectionFor("calendar-api") }).fetch,
  );
  const flights = await listen(
    flightsApi({ issuer: BATON_URL, introspection: introspectionFor("flights-api") }).fetch,
  );
  try {
    await runStory({
      broker: BATON_URL,
      calendarApi: calendar.url,
      flightsApi: flights.url,
      baton: runBaton,
    });
  } catch (err) {
    console.error(`The story stopped: ${(err as Error).message}`);
    console.error(`Is Baton running at ${BATON_URL} (npm start), with the demo policies?`);
    process.exitCode = 1;
  } finally {
    calendar.close();
    flights.close();
  }
}
