/**
 * Rule 2 shortens a lifetime to the caps (the API's, the broker's, the parent token's, the
 * task's): the token says so only in `exp`, so the result says it outright (issue 16).
 *
 * @module mcp/tools/ttl
 */

import { z } from "zod";

export const TtlCappedField = z.literal(true).optional().describe("ttl_seconds was capped.");

/** `{ttl_capped: true}` when the lifetime granted is shorter than the one asked for. */
export function ttlCapped(asked: number | undefined, grantedSeconds: number) {
  return asked !== undefined && grantedSeconds < asked ? { ttl_capped: true as const } : {};
}
