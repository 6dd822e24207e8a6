/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 8693 §2.1) into
 * every value of every name, so that repeats can be told from single values.
 *
 * @module http/form
 */

import type { Context } from "hono";
import { invalidRequest } from "../errors.js";
import type { FormParams } from "../exchange/request.js";

/** Largest body the OAuth endpoints read: two tokens and some parameters fit many times. */
export const MAX_FORM_BYTES = 64 * 1024;

export async function readForm(c: Context): Promise<FormParams> {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw invalidRequest(
      "The request body must be application/x-www-form-urlencoded",
      "request.content_type",
    );
  }
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_FORM_BYTES)
    throw invalidRequest("The request body is too large", "request.too_large");
  const body = await c.req.arrayBuffer();
  if (body.byteLength > MAX_FORM_BYTES)
    throw invalidRequest("The request body is too large", "request.too_large");

  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(
    new TextDecoder("utf-8", { fatal: false }).decode(body),
  )) {
    const list = params.get(name);
    if (list) list.push(value);
    else params.set(name, [value]);
  }
  return params;
}
