/**
 * What the examples share: where Baton is, and how the example APIs introspect.
 *
 * Introspection (RFC 7662) is client-authenticated, and the demo policies register no client for
 * the APIs, so by default they introspect as the orchestrator, with its documented demo secret.
 * In production, register a client of the API's own (an agent with no scopes and `disabled:
 * true` can authenticate but never exchange) and pass it in BATON_INTROSPECTION_CLIENT_ID and
 * BATON_INTROSPECTION_CLIENT_SECRET.
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { IntrospectionClient } from "baton/verify";

export const BATON_URL =
  process.env.BATON_ISSUER ?? `http://127.0.0.1:${process.env.BATON_PORT ?? "8787"}`;

export const INTROSPECTION: IntrospectionClient = {
  clientId: process.env.BATON_INTROSPECTION_CLIENT_ID ?? "orchestrator",
  clientSecret: process.env.BATON_INTROSPECTION_CLIENT_SECRET ?? "orchestrator-secret",
};

/** What every example API is given. */
export interface ApiOptions {
  /** Baton's issuer identifier. */
  readonly issuer: string;
  /** Omit to verify signatures only (a revoked token then works until it expires). */
  readonly introspection?: IntrospectionClient;
}

/** True when this module is the script node was started with. */
export const isMain = (url: string) =>
  process.argv[1] !== undefined && fileURLToPath(url) === resolve(process.argv[1]);
