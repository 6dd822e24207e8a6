/**
 * What the examples share: where Baton is, and how the example APIs introspect.
 *
 * Introspection (RFC 7662) is client-authenticated: each API has a client of its own in the demo
 * policies (`calendar-api`, `flights-api` in policies/agents.yaml: `disabled`, so they can
 * authenticate but never exchange), with its documented demo secret. Each names its API in
 * `introspects`: Baton answers in full only a client entitled to the answer (RFC 7662 §4), and
 * tells any other `active: false`. Elsewhere, pass the API's own client in
 * BATON_INTROSPECTION_CLIENT_ID and BATON_INTROSPECTION_CLIENT_SECRET, and give that client
 * `introspects: [<the API id>]` in the policy.
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { IntrospectionClient } from "baton/verify";

export const BATON_URL =
  process.env.BATON_ISSUER ?? `http://127.0.0.1:${process.env.BATON_PORT ?? "8787"}`;

/** The introspection client of an example API: its demo client unless the env names another. */
export function introspectionFor(api: "calendar-api" | "flights-api"): IntrospectionClient {
  return {
    clientId: process.env.BATON_INTROSPECTION_CLIENT_ID ?? api,
    clientSecret: process.env.BATON_INTROSPECTION_CLIENT_SECRET ?? `${api}-secret`,
  };
}

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
