/**
 * RFC 8414 discovery: the issuer's `jwks_uri` and `introspection_endpoint`, read once from
 * `<issuer>/.well-known/oauth-authorization-server`, and retried after a failure.
 *
 * @module verify/discovery
 */

import { BearerError } from "./bearer-error.js";

export interface Endpoints {
  readonly jwksUri: string;
  readonly introspectionEndpoint?: string;
}

export type Discover = () => Promise<Endpoints>;

export function discovery(issuer: string, timeoutMs: number): Discover {
  let pending: Promise<Endpoints> | undefined;
  return () => {
    pending ??= fetchMetadata(issuer, timeoutMs).catch((err: unknown) => {
      // Not cached: the next request tries again.
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

async function fetchMetadata(issuer: string, timeoutMs: number): Promise<Endpoints> {
  // RFC 8414 §3: the well-known suffix goes between the host and any path of the issuer.
  const url = new URL(issuer);
  url.pathname = `/.well-known/oauth-authorization-server${url.pathname === "/" ? "" : url.pathname}`;
  let metadata: Record<string, unknown>;
  try {
    const res = await fetch(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    metadata = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new BearerError("temporarily_unavailable", "discovery.unreachable");
  }
  // RFC 8414 §3.3: the metadata's issuer must be exactly the one asked about.
  if (metadata.issuer !== issuer || typeof metadata.jwks_uri !== "string") {
    throw new BearerError("temporarily_unavailable", "discovery.mismatch");
  }
  return {
    jwksUri: metadata.jwks_uri,
    ...(typeof metadata.introspection_endpoint === "string"
      ? { introspectionEndpoint: metadata.introspection_endpoint }
      : {}),
  };
}
