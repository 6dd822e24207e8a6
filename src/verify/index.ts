/**
 * `baton/verify`: what an API owner needs to accept Baton's access tokens.
 *
 * ```ts
 * import { createVerifier, BearerError } from "baton/verify";
 * const verifier = createVerifier({ issuer: "http://127.0.0.1:8787", audience: "https://flights.example.com" });
 * const who = await verifier.verify(request.headers.get("authorization"), { scopes: ["flights.search"] });
 * // who.subject: for whom; who.actor: the agent asking; who.chain: every agent, current first
 * ```
 *
 * A separate public entry point: it imports nothing of the broker but the token type constants.
 *
 * @module verify
 */

export type { VerifiedToken } from "./access-claims.js";
export { BearerError, type BearerErrorBody, type BearerErrorCode } from "./bearer-error.js";
export type { IntrospectionClient } from "./introspection.js";
export {
  type Algorithm,
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerifyOptions,
} from "./verifier.js";
