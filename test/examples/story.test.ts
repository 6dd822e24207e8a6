/**
 * examples/story.ts, run as `npm run example` runs it, against a real `baton serve` (demo
 * policies, a fresh SQLite store) and the two example APIs on loopback: every step's outcome,
 * and that no token ever appears in what anyone printed or answered.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calendarApi } from "../../examples/calendar-api.js";
import { introspectionFor } from "../../examples/demo.js";
import { flightsApi } from "../../examples/flights-api.js";
import { listen, runStory, type StoryResult } from "../../examples/story.js";
import {
  Children,
  runBaton,
  type Served,
  startServe,
  TEST_POLICIES,
} from "../helpers/cli-process.js";

const children = new Children();
let served: Served;
let dir: string;
let story: StoryResult;
const printed: string[] = [];
const cliOutputs: string[] = [];
const apis: { close(): void }[] = [];

beforeAll(async () => {
  dir = await children.tempDir("baton-story-");
  const shared = [
    "--policies",
    TEST_POLICIES,
    "--store",
    `sqlite://${join(dir, "baton.db")}`,
    "--audit",
    join(dir, "audit.jsonl"),
  ];
  served = await startServe(children, { args: shared, env: { BATON_WATCH: "0" } });
  // Each demo API introspects as its own client of the demo policies (disabled: never exchanges).
  const calendar = await listen(
    calendarApi({ issuer: served.url, introspection: introspectionFor("calendar-api") }).fetch,
  );
  const flights = await listen(
    flightsApi({ issuer: served.url, introspection: introspectionFor("flights-api") }).fetch,
  );
  apis.push(calendar, flights);
  story = await runStory(
    {
      broker: served.url,
      calendarApi: calendar.url,
      flightsApi: flights.url,
      baton: async (args) => {
        const out = await runBaton(children, [...args, ...shared, "--issuer", served.url]);
        if (args[0] !== "dev-token") cliOutputs.push(out);
        return out;
      },
    },
    (line) => printed.push(line),
  );
}, 60_000);

afterAll(async () => {
  for (const api of apis) api.close();
  await children.cleanup();
});

describe("examples/story.ts against baton serve and the example APIs", () => {
  it("opens the book-trip task, which waits for the approval of its elevated ceiling", () => {
    expect(story.task.status).toBe("approval_required");
    expect(story.task.ceiling).toEqual(["flights.search", "flights.book", "calendar.read"]);
    expect(story.task.approval_id).toMatch(/^apr_/);
    expect(story.whilePending).toEqual({ status: 400, error: "authorization_pending" });
  });

  it("the operator approves it from the CLI", () => {
    expect(story.approved).toContain(`${story.task.approval_id} approved`);
  });

  it("the calendar API accepts the orchestrator's token and names subject and actor", () => {
    expect(story.calendarRead.status).toBe(200);
    expect(story.calendarRead.body).toMatchObject({
      calendar_of: "alice@example.com",
      read_by: "orchestrator",
      chain: ["orchestrator"],
      task: story.task.task_id,
    });
  });

  it("rfc9068 §4: the flights API refuses the delegation token (its typ is not at+jwt)", () => {
    expect(story.delegationAtApi.status).toBe(401);
    expect(story.delegationAtApi.error).toBe("invalid_token");
    expect(story.delegationAtApi.challenge).toContain('error="invalid_token"');
  });

  it("rfc8693 §4.1: the flight booker is the actor, the orchestrator is in the chain", () => {
    expect(story.booker.chain).toEqual(["flight-booker", "orchestrator"]);
    expect(story.flightsSearch.status).toBe(200);
    expect(story.flightsSearch.body).toMatchObject({
      traveller: "alice@example.com",
      searched_by: "flight-booker",
      chain: ["flight-booker", "orchestrator"],
    });
  });

  it("rfc6750 §3.1: a missing scope is 403 insufficient_scope, another API's token 401", () => {
    expect(story.searchTokenBooks).toMatchObject({ status: 403, error: "insufficient_scope" });
    expect(story.searchTokenBooks.challenge).toBe(
      'Bearer realm="flights", error="insufficient_scope", error_description="The access token lacks a scope this request needs", scope="flights.book"',
    );
    expect(story.searchTokenAtCalendar).toMatchObject({ status: 401, error: "invalid_token" });
  });

  it("the elevated flights.book, inside the approved ceiling, books", () => {
    expect(story.booking.status).toBe(201);
    expect(story.booking.body).toMatchObject({ booked_by: "flight-booker" });
  });

  it("ending the task kills every token: the APIs (introspecting) refuse them all", () => {
    expect(story.ended.revoked).toBe(true);
    for (const [name, answer] of Object.entries(story.afterEnd)) {
      expect({ name, status: answer.status, error: answer.error }).toEqual({
        name,
        status: 401,
        error: "invalid_token",
      });
    }
    expect(story.delegationAfterEnd).toEqual({ status: 400, error: "invalid_request" });
  });

  it("prints a numbered narrative, and no token anywhere", async () => {
    const text = printed.join("\n");
    for (let step = 1; step <= 11; step++) expect(text).toContain(`\n${step}. `);
    expect(story.tokens).toHaveLength(5);
    const audit = await readFile(join(dir, "audit.jsonl"), "utf8");
    const outputs = {
      story: text,
      apis: story.apiTexts.join("\n"),
      cli: cliOutputs.join("\n"),
      serve: `${served.banner}\n${served.stderr()}`,
      audit,
    };
    for (const token of story.tokens) {
      // The signature part alone is enough to leak a token; look for it too.
      const signature = token.split(".")[2] as string;
      for (const [where, out] of Object.entries(outputs)) {
        expect(out.includes(token) || out.includes(signature), `a token in ${where}`).toBe(false);
      }
    }
  });
});
