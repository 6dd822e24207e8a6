/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 8693 §2.1) into
 * every value of every name, so that repeats can be told from single values.
 *
 * The body is UTF-8 (RFC 6749 Appendix B) or it is refused: a `charset` other than UTF-8, raw
 * bytes that are not UTF-8, or a percent-escape that does not decode to UTF-8 is 400
 * `invalid_request`, never a value quietly read with U+FFFD in it (issue 14 item 6).
 *
 * @module http/form
 */

import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import type { FormParams } from "./form-params.js";

/** Largest body the OAuth endpoints read: two tokens and some parameters fit many times. */
export const MAX_FORM_BYTES = 64 * 1024;

const tooLarge = () => invalidRequest("The request body is too large", "request.too_large");

const wrongType = () =>
  invalidRequest(
    "The request body must be application/x-www-form-urlencoded",
    "request.content_type",
  );
const wrongCharset = () =>
  invalidRequest("The request body must be encoded in UTF-8", "request.charset");
const notUtf8 = () =>
  invalidRequest("The request body is not UTF-8 form-urlencoded data", "request.encoding");

export async function readForm(c: Context): Promise<FormParams> {
  checkContentType(c.req.header("content-type"));
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_FORM_BYTES) throw tooLarge();
  const incoming = nodeRequest(c);
  const body = incoming
    ? await readCapped(incoming, MAX_FORM_BYTES)
    : Buffer.from(await c.req.arrayBuffer());
  if (body.byteLength > MAX_FORM_BYTES) throw tooLarge();

  return parseForm(body);
}

// RFC 9110 §5.6.2 token and §5.6.4 quoted-string (obs-text included: header values are latin1).
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~\\x80-\\xff]|\\\\[\\t !-~\\x80-\\xff])*"';
/** One `; name=value` of RFC 9110 §5.6.6 (an empty one, as in a trailing `;`, is allowed). */
const PARAMETER = new RegExp(`[ \\t]*;[ \\t]*(?:(${TOKEN})=(${TOKEN}|${QUOTED}))?`, "y");

/**
 * RFC 9110 §8.3.1: the media type, then parameters. A malformed parameter list is a wrong
 * content type; a `charset` is allowed once and only as UTF-8 (any case, quoted or not).
 */
function checkContentType(header: string | undefined): void {
  const semi = header?.indexOf(";") ?? -1;
  const type = (semi === -1 ? header : header?.slice(0, semi))?.trim().toLowerCase();
  if (header === undefined || type !== "application/x-www-form-urlencoded") throw wrongType();
  const charsets: string[] = [];
  PARAMETER.lastIndex = semi;
  while (semi !== -1 && PARAMETER.lastIndex < header.length) {
    const at = PARAMETER.lastIndex;
    const match = PARAMETER.exec(header);
    if (!match) {
      if (header.slice(at).trim() === "") break;
      throw wrongType();
    }
    if (match[1]?.toLowerCase() === "charset") charsets.push(unquote(match[2] ?? ""));
  }
  if (charsets.length > 1) throw wrongCharset();
  if (charsets.length === 1 && charsets[0]?.toLowerCase() !== "utf-8") throw wrongCharset();
}

function unquote(value: string): string {
  return value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value;
}

/** Fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The WHATWG urlencoded parser (split on `&`, then on the first `=`, `+` is a space), except
 * that every byte and every percent-escape must decode to UTF-8, and a malformed escape (`%zz`)
 * is refused rather than kept as text.
 */
function parseForm(body: Buffer): FormParams {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw notUtf8();
  }
  const params = new Map<string, string[]>();
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decodeComponent(pair.slice(eq + 1));
    const list = params.get(name);
    if (list) list.push(value);
    else params.set(name, [value]);
  }
  return params;
}

function decodeComponent(raw: string): string {
  const spaced = raw.includes("+") ? raw.replaceAll("+", " ") : raw;
  if (!spaced.includes("%")) return spaced;
  try {
    // Throws on a malformed escape and on escapes that are not UTF-8 (overlong, surrogates).
    return decodeURIComponent(spaced);
  } catch {
    throw notUtf8();
  }
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
