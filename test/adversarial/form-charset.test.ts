/**
 * Issue 14 item 6: form bodies are UTF-8 (RFC 6749 Appendix B). A form-urlencoded body that
 * declares another charset, or whose bytes or percent-escapes do not decode to UTF-8, is 400
 * `invalid_request` at every endpoint that reads a form, and nothing happens: no token issued,
 * none revoked, no task opened. Before, `charset=latin1` was read as UTF-8 and bad bytes became
 * U+FFFD in the value. Exact bytes and headers over node:http (`rawPost`), on loopback.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  basicAuth,
  expectRawRefused,
  issuedCount,
  type RawResponse,
  rawPost,
} from "../helpers/assertions.js";
import {
  startTestBroker,
  type TestBroker,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
} from "../helpers/broker.js";

const USER = "alice@example.com";
const FORM = "application/x-www-form-urlencoded";

let broker: TestBroker;
let subject: string;
beforeAll(async () => {
  broker = await startTestBroker();
  subject = await broker.devToken(USER);
});
afterAll(() => broker.close());

/** A form body, exactly as given: `extra` is appended raw (bytes and escapes untouched). */
function body(form: Record<string, string>, extra: Buffer | string = ""): Buffer {
  const encoded = new URLSearchParams(form).toString();
  return Buffer.concat([Buffer.from(encoded), Buffer.from(extra)]);
}

function send(path: string, contentType: string, bytes: Buffer): Promise<RawResponse> {
  return rawPost(
    broker.url,
    path,
    {
      "content-type": contentType,
      "content-length": bytes.length,
      authorization: basicAuth("orchestrator", broker.secrets.orchestrator as string),
    },
    bytes,
  );
}

const exchangeForm = () => ({
  grant_type: TOKEN_EXCHANGE_GRANT,
  subject_token: subject,
  subject_token_type: TOKEN_TYPE.jwt,
  audience: "docs",
  scope: "docs.read",
});

/** A token the orchestrator holds, to try to revoke. */
async function accessToken(): Promise<string> {
  const res = await send("/token", FORM, body(exchangeForm()));
  expect(res.status, res.text).toBe(200);
  return JSON.parse(res.text).access_token as string;
}

async function isActive(token: string): Promise<boolean> {
  const res = await broker.post("/introspect", { token }, "orchestrator");
  return ((await res.json()) as { active: boolean }).active;
}

/** The exact error, nothing issued; the description is the fixed one (never the input). */
function expectRefused(res: RawResponse, before: number, description: string): void {
  expectRawRefused(broker, before, res, 400, "invalid_request");
  expect(JSON.parse(res.text)).toEqual({
    error: "invalid_request",
    error_description: description,
  });
}

const WRONG_CHARSET = "The request body must be encoded in UTF-8";
const WRONG_TYPE = "The request body must be application/x-www-form-urlencoded";
const NOT_UTF8 = "The request body is not UTF-8 form-urlencoded data";

describe("Content-Type charset: UTF-8 or nothing", () => {
  it.each([
    FORM,
    `${FORM}; charset=utf-8`,
    `${FORM}; charset=UTF-8`,
    `${FORM};charset="UTF-8"`,
    `${FORM} ; Charset=Utf-8 ;`,
    `${FORM}; foo="a;b"; charset=utf-8`,
  ])("%s: the exchange goes through (the control)", async (type) => {
    const before = issuedCount(broker);
    const res = await send("/token", type, body(exchangeForm()));
    expect(res.status, res.text).toBe(200);
    expect(issuedCount(broker)).toBe(before + 1);
  });

  it.each([
    [`${FORM}; charset=latin1`, WRONG_CHARSET],
    [`${FORM}; charset=iso-8859-1`, WRONG_CHARSET],
    [`${FORM}; charset="ISO-8859-1"`, WRONG_CHARSET],
    [`${FORM}; charset=utf-16`, WRONG_CHARSET],
    [`${FORM}; charset=us-ascii`, WRONG_CHARSET],
    [`${FORM}; charset=""`, WRONG_CHARSET],
    [`${FORM}; charset=utf-8; charset=latin1`, WRONG_CHARSET],
    [`${FORM}; charset=`, WRONG_TYPE],
    [`${FORM}; charset`, WRONG_TYPE],
    [`${FORM}; charset=utf-8, latin1`, WRONG_TYPE],
  ])("/token with %s: 400 invalid_request, nothing issued", async (type, description) => {
    const before = issuedCount(broker);
    // Every byte of this body is ASCII, so it reads the same in any charset: only the label
    // is refused, as it must be (a latin1 client's non-ASCII bytes would be misread).
    expectRefused(await send("/token", type, body(exchangeForm())), before, description);
  });

  it("/revoke with charset=latin1: 400 invalid_request, and the token stays active", async () => {
    const token = await accessToken();
    const before = issuedCount(broker);
    const res = await send("/revoke", `${FORM}; charset=latin1`, body({ token }));
    expectRefused(res, before, WRONG_CHARSET);
    expect(await isActive(token)).toBe(true);
    // The control: the same request as UTF-8 revokes it.
    const ok = await send("/revoke", `${FORM}; charset=utf-8`, body({ token }));
    expect(ok.status).toBe(200);
    expect(await isActive(token)).toBe(false);
  });

  it("/introspect and /tasks with charset=latin1: 400 invalid_request, no task opened", async () => {
    const token = await accessToken();
    const before = issuedCount(broker);
    expectRefused(
      await send("/introspect", `${FORM}; charset=latin1`, body({ token })),
      before,
      WRONG_CHARSET,
    );
    const events = broker.events.length;
    const task = body({
      subject_token: subject,
      subject_token_type: TOKEN_TYPE.jwt,
      purpose: "a task",
      scope: "docs.read",
    });
    expectRefused(await send("/tasks", `${FORM}; charset=latin1`, task), before, WRONG_CHARSET);
    expect(broker.events.slice(events).filter((e) => e.type === "task.started")).toEqual([]);
    // The control: the same form as UTF-8 opens the task.
    const ok = await send("/tasks", FORM, task);
    expect(ok.status, ok.text).toBe(201);
  });
});

describe("the bytes are UTF-8, before and after percent-decoding", () => {
  // `reason` is free text recorded in the audit log: before, a bad sequence in it became U+FFFD
  // and the token was issued anyway.
  it.each([
    ["a percent-escaped 0xFF", "&reason=caf%FF"],
    ["a percent-escaped truncated sequence", "&reason=caf%C3"],
    ["a percent-escaped overlong '/'", "&reason=%C0%AF"],
    ["a percent-escaped surrogate", "&reason=%ED%A0%80"],
    ["a raw 0xFF byte", Buffer.from([0x26, 0x72, 0x65, 0x61, 0x73, 0x6f, 0x6e, 0x3d, 0xff])],
    [
      "a raw latin1 'é' (0xE9)",
      Buffer.from([0x26, 0x72, 0x65, 0x61, 0x73, 0x6f, 0x6e, 0x3d, 0xe9]),
    ],
    ["a malformed escape", "&reason=100%zz"],
    ["a bad sequence in an unknown parameter's name", "&x%FF=1"],
  ])("%s: 400 invalid_request, nothing issued", async (_, extra) => {
    const before = issuedCount(broker);
    expectRefused(await send("/token", FORM, body(exchangeForm(), extra)), before, NOT_UTF8);
  });

  it("UTF-8, raw or percent-escaped, goes through and is read as sent (the control)", async () => {
    const before = issuedCount(broker);
    const mark = broker.events.length;
    const res = await send("/token", FORM, body(exchangeForm(), "&reason=caf%C3%A9+cr\u00e8me"));
    expect(res.status, res.text).toBe(200);
    expect(issuedCount(broker)).toBe(before + 1);
    const issued = broker.events.slice(mark).find((e) => e.type === "exchange.issued");
    expect(issued).toMatchObject({ reason: "café crème" });
  });
});
