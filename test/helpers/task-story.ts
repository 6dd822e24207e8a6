/**
 * A small delegation story grown against a real `baton serve` over HTTP (issue 8: the task tree
 * of `baton audit --task` and of the approval page): the orchestrator opens a task for alice,
 * takes a calendar token and delegates to flight-booker, which takes flight tokens; one of them
 * is revoked by flight-booker itself.
 */

import { decodeJwt } from "jose";
import { expect } from "vitest";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "./broker.js";
import { DEMO_SECRETS } from "./mcp.js";

/** POSTs a form to the served broker as a demo agent (client_secret_basic). */
export async function postAs(
  url: string,
  path: string,
  form: Record<string, string>,
  agent: string,
): Promise<{ status: number; body: Record<string, any> }> {
  const credentials = Buffer.from(`${agent}:${DEMO_SECRETS[agent]}`).toString("base64");
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${credentials}`,
    },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, any>) };
}

/** `POST /tasks` as the orchestrator for the user of `subject`. */
export async function openTask(url: string, subject: string, purpose: string, ceiling: string) {
  const { status, body } = await postAs(
    url,
    "/tasks",
    { subject_token: subject, subject_token_type: TOKEN_TYPE.jwt, purpose, scope: ceiling },
    "orchestrator",
  );
  expect(status, JSON.stringify(body)).toBe(201);
  return body as { task_id: string; status: string; approval_id?: string };
}

/** One token exchange that must succeed; the token and its jti. */
async function issue(url: string, agent: string, form: Record<string, string>) {
  const { status, body } = await postAs(
    url,
    "/token",
    { grant_type: TOKEN_EXCHANGE_GRANT, subject_token_type: TOKEN_TYPE.jwt, ...form },
    agent,
  );
  expect(status, JSON.stringify(body)).toBe(200);
  const token = body.access_token as string;
  return { token, jti: decodeJwt(token).jti as string };
}

export interface Story {
  readonly calendar: string;
  readonly toBooker: string;
  readonly search: string;
  /** The booking token flight-booker revoked. */
  readonly revoked: string;
  readonly booking: string;
  /** The delegation token itself (to revoke the branch). */
  readonly toBookerToken: string;
}

/**
 * Grows the story in `taskId`; `book` is the scope of flight-booker's booking tokens (the
 * elevated `flights.book` needs the task's ceiling approved first). flight-booker talks to
 * `bookerUrl` (another node of the same broker) when given. Returns the jtis.
 */
export async function growStory(
  url: string,
  subject: string,
  taskId: string,
  book: string,
  bookerUrl = url,
): Promise<Story> {
  const enter = { subject_token: subject, task_id: taskId };
  const calendar = await issue(url, "orchestrator", {
    ...enter,
    audience: "calendar",
    scope: "calendar.read",
  });
  const toBooker = await issue(url, "orchestrator", {
    ...enter,
    requested_token_type: TOKEN_TYPE.jwt,
    audience: "flight-booker",
    scope: book === "flights.search" ? book : `flights.search ${book}`,
    reason: "Find and book the Berlin flight",
  });
  // Below the opener, the delegation token carries the task: no task_id.
  const asBooker = (scope: string) =>
    issue(bookerUrl, "flight-booker", {
      subject_token: toBooker.token,
      audience: "flights",
      scope,
    });
  const search = await asBooker("flights.search");
  const wrong = await asBooker(book);
  const gone = await postAs(bookerUrl, "/revoke", { token: wrong.token }, "flight-booker");
  expect(gone.status).toBe(200);
  const booking = await asBooker(book);
  return {
    calendar: calendar.jti,
    toBooker: toBooker.jti,
    search: search.jti,
    revoked: wrong.jti,
    booking: booking.jti,
    toBookerToken: toBooker.token,
  };
}
