/**
 * What the property tests draw their policies from: a fixed catalogue of three APIs (two
 * elevated scopes among them), the constants of the model that predicts each step, and the
 * fast-check arbitraries the chain and task tests share for a step's API, scopes and ttl.
 */

import fc from "fast-check";

export const APIS = {
  calendar: {
    resource: "https://calendar.example.com",
    max_ttl: "10m",
    default_scopes: ["calendar.read"],
    scopes: {
      "calendar.read": "Read events",
      "calendar.write": { description: "Change events", approval: "subject" },
    },
  },
  flights: {
    resource: "https://flights.example.com",
    scopes: {
      "flights.search": "Search flights",
      "flights.book": { description: "Book a flight", approval: "subject" },
    },
  },
  docs: {
    resource: "https://docs.example.com/api",
    max_ttl: "30m",
    scopes: { "docs.read": "Read documents", "docs.write": "Write documents" },
  },
} as const;
export type ApiId = keyof typeof APIS;
export const API_IDS = Object.keys(APIS) as ApiId[];

export const DEFAULT_TTL = 300;
export const MAX_TTL = 3600;
export const API_MAX_TTL: Record<ApiId, number> = { calendar: 600, flights: MAX_TTL, docs: 1800 };
export const DEFAULT_SCOPES: Record<ApiId, readonly string[]> = {
  calendar: ["calendar.read"],
  flights: [],
  docs: [],
};
export const API_OF = new Map<string, ApiId>(
  API_IDS.flatMap((api) => Object.keys(APIS[api].scopes).map((s) => [s, api] as [string, ApiId])),
);
export const SCOPES = [...API_OF.keys()];
export const ELEVATED = new Set(
  API_IDS.flatMap((api) =>
    Object.entries(APIS[api].scopes)
      .filter(([, v]) => typeof v === "object")
      .map(([s]) => s),
  ),
);

// ---------------------------------------------------------------------------------------------
// Arbitraries a step draws from

/** The API a step asks for. */
export const apiArb = fc.constantFrom(...API_IDS);
/** Any non-empty set of the catalogue's scopes. */
export const randomScopesArb = fc.subarray(SCOPES, { minLength: 1 });
/** `ttl_seconds` of a request, or none. */
export const ttlArb = fc.option(fc.integer({ min: 1, max: 7200 }), { nil: undefined });
