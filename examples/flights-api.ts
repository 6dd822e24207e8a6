/**
 * An example API that accepts Baton's tokens: flight search and booking, resource
 * `https://flights.example.com` in policies/apis.yaml.
 *
 *   node --conditions=baton-source --import tsx examples/flights-api.ts    # on port 8802
 */

import { serve } from "@hono/node-server";
import { createVerifier } from "baton/verify";
import { Hono } from "hono";
import { type ApiOptions, BATON_URL, introspectionFor, isMain } from "./demo.js";
import { type AuthEnv, requireToken } from "./middleware/hono.js";

export const FLIGHTS = "https://flights.example.com";

export function flightsApi(options: ApiOptions): Hono<AuthEnv> {
  const verifier = createVerifier({ ...options, audience: FLIGHTS });
  const app = new Hono<AuthEnv>();

  app.get("/flights", requireToken(verifier, ["flights.search"], "flights"), (c) => {
    const { subject, actor, chain } = c.get("auth");
    return c.json({
      traveller: subject,
      searched_by: actor,
      chain,
      flights: [{ flight: "TP1352", from: "BER", to: "LIS", date: "2026-03-10", fare: 189 }],
    });
  });

  app.post("/bookings", requireToken(verifier, ["flights.book"], "flights"), (c) => {
    const { subject, actor, chain } = c.get("auth");
    // RFC 8693 §4.1: the decision is about the current actor; the chain is for the record.
    return c.json(
      { booked: "TP1352", traveller: subject, booked_by: actor, on_behalf_chain: chain },
      201,
    );
  });

  return app;
}

if (isMain(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8802);
  serve({
    fetch: flightsApi({ issuer: BATON_URL, introspection: introspectionFor("flights-api") }).fetch,
    hostname: "127.0.0.1",
    port,
  });
  console.log(`Flights API on http://127.0.0.1:${port}, trusting ${BATON_URL}`);
}
