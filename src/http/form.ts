/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 8693 §2.1) into
 * every value of every name, so that repeats can be told from single values.
 *
 * @module http/form
 */

import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import type { FormParams } from "../exchange/request.js";

/** Largest body the OAuth endpoints read: two tokens and some parameters fit many times. */
export const MAX_FORM_BYTES = 64 * 1024;

const tooLarge = () => invalidRequest("The request body is too large", "request.too_large");

export async function readForm(c: Context): Promise<FormParams> {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw invalidRequest(
      "The request body must be application/x-www-form-urlencoded",
      "request.content_type",
    );
  }
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_FORM_BYTES) throw tooLarge();
  const incoming = nodeRequest(c);
  const body = incoming
    ? await readCapped(incoming, MAX_FORM_BYTES)
    : Buffer.from(await c.req.arrayBuffer());
  if (body.byteLength > MAX_FORM_BYTES) throw tooLarge();

  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(body.toString("utf8"))) {
    const list = params.get(name);
    if (list) list.push(value);
    else params.set(name, [value]);
  }
  return params;
}

/**
 * The node:http request under hono, when its body is still unread. Reading it directly spares
 * every request a WHATWG `Request` with a body stream and an `AbortSignal` (issue 7: ~17% of
 * the JS thread in the profile of docs/performance.md). Elsewhere (tests calling `app.request`)
 * hono's own reader serves.
 */
function nodeRequest(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming && typeof incoming.on === "function" && !incoming.readableDidRead
    ? incoming
    : undefined;
}

/** The whole body, refused as soon as it passes `max` bytes (a chunked body declares no size). */
function readCapped(incoming: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (settle: () => void) => {
      incoming.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      settle();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      // The rest is drained by node:http; none of it is kept.
      else done(() => reject(tooLarge()));
    };
    const onEnd = () => done(() => resolve(Buffer.concat(chunks, size)));
    const onError = () =>
      done(() => reject(invalidRequest("The request body was cut off", "request.aborted")));
    const onClose = () => {
      if (!incoming.readableEnded) onError();
    };
    incoming.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}
