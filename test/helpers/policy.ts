/**
 * The base policy of the integration tests: like the demo, plus the agents and the outside
 * issuer that the refusal paths need. Tests edit a copy through `editPolicy`.
 */

import { createHash } from "node:crypto";
import type { JWK } from "jose";

export const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");

export function testPolicy(p: {
  issuer: string;
  idpJwk: JWK;
  researcherJwk: JWK;
  secrets: Record<string, string>;
}): Record<string, any> {
  const secret = (id: string) => sha256Hex(p.secrets[id] as string);
  return {
    broker: {
      signing_alg: "EdDSA",
      default_ttl: "5m",
      max_ttl: "1h",
      max_depth: 3,
      dev_issuer: true,
    },
    issuers: [
      {
        issuer: "https://idp.test",
        jwks: { keys: [p.idpJwk] },
        audience: p.issuer,
        algorithms: ["ES256"],
        scopes_bound: true,
      },
    ],
    apis: {
      calendar: {
        resource: "https://calendar.example.com",
        description: "Team calendar",
        max_ttl: "10m",
        default_scopes: ["calendar.read"],
        scopes: {
          "calendar.read": "Read events",
          "calendar.write": { description: "Change events", approval: "subject" },
        },
      },
      flights: {
        resource: "https://flights.example.com",
        description: "Flights",
        scopes: {
          "flights.search": "Search flights",
          "flights.book": { description: "Book a flight", approval: "subject" },
        },
      },
      docs: {
        resource: "https://docs.example.com/api",
        description: "Documents",
        max_ttl: "30m",
        scopes: { "docs.read": "Read documents", "docs.write": "Write documents" },
      },
    },
    agents: {
      orchestrator: {
        description: "Plans trips",
        secret_sha256: secret("orchestrator"),
        scopes: [
          "calendar.read",
          "calendar.write",
          "flights.search",
          "flights.book",
          "docs.read",
          "docs.write",
        ],
        delegate_to: ["flight-booker", "researcher"],
      },
      "flight-booker": {
        description: "Books flights",
        secret_sha256: secret("flight-booker"),
        scopes: ["flights.search", "flights.book", "docs.read"],
        delegate_to: ["researcher"],
      },
      researcher: {
        description: "Reads documents; authenticates with private_key_jwt or its secret",
        secret_sha256: secret("researcher"),
        jwks: { keys: [p.researcherJwk] },
        scopes: ["docs.read", "flights.search"],
        delegate_to: ["orchestrator"],
      },
      impersonator: {
        description: "A service allowed to act as the user",
        secret_sha256: secret("impersonator"),
        scopes: ["docs.read"],
        impersonate: true,
      },
      retired: {
        description: "Switched off",
        secret_sha256: secret("retired"),
        scopes: ["docs.read"],
        disabled: true,
      },
    },
  };
}
