/**
 * Where an ID-JAG is redeemed (draft-ietf-oauth-identity-assertion-authz-grant §4.4): the
 * `token_endpoint` of the API's authorization server, read from its RFC 8414 metadata. Fetched
 * on first use and kept for a while; a failure is kept briefly too, so that a server that is
 * down costs one timeout now and then, not one per token. A lookup never throws: an ID-JAG is
 * issued whether or not its server's metadata can be had, and the caller says which.
 *
 * @module tokens/outside-servers
 */

export interface OutsideServerOptions {
  /** Per fetch (ms). */
  readonly timeoutMs?: number;
  /** How long an answer is kept (seconds). */
  readonly ttlSeconds?: number;
  /** How long a failure is kept before the next try (seconds). */
  readonly failureTtlSeconds?: number;
}

/** The token endpoint of an authorization server, by its issuer; undefined when unknown. */
export type TokenEndpointLookup = (issuer: string, now: number) => Promise<string | undefined>;

/** Metadata documents are small; anything bigger is not one (RFC 8414 §3.2). */
const MAX_METADATA_BYTES = 64 * 1024;
/** Issuers come from policy: a handful. The bound only keeps a mistake from growing it. */
const MAX_ENTRIES = 256;

export function tokenEndpoints(options: OutsideServerOptions = {}): TokenEndpointLookup {
  const { timeoutMs = 2000, ttlSeconds = 3600, failureTtlSeconds = 60 } = options;
  const cache = new Map<string, { until: number; endpoint: Promise<string | undefined> }>();
  return (issuer, now) => {
    const kept = cache.get(issuer);
    if (kept && kept.until > now) return kept.endpoint;
    if (cache.size >= MAX_ENTRIES) cache.clear();
    // Concurrent lookups share one fetch; its outcome decides how long it is kept.
    const entry = {
      until: now + failureTtlSeconds,
      endpoint: Promise.resolve<string | undefined>(undefined),
    };
    entry.endpoint = fetchTokenEndpoint(issuer, timeoutMs).then(
      (endpoint) => {
        entry.until = now + ttlSeconds;
        return endpoint;
      },
      () => undefined,
    );
    cache.set(issuer, entry);
    return entry.endpoint;
  };
}

/** RFC 8414 §3.1: the well-known suffix goes between the host and any path of the issuer. */
export function metadataUrl(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname;
  url.pathname = `/.well-known/oauth-authorization-server${path}`;
  url.search = "";
  return url;
}

async function fetchTokenEndpoint(issuer: string, timeoutMs: number): Promise<string> {
  const res = await fetch(metadataUrl(issuer), {
    headers: { accept: "application/json" },
    // A redirect elsewhere is not the issuer's metadata (RFC 8414 §3.3 binds it to the issuer).
    redirect: "error",
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`metadata status ${res.status}`);
  const metadata = JSON.parse(await boundedText(res)) as Record<string, unknown>;
  // RFC 8414 §3.3: the issuer in the metadata must be exactly the one asked about.
  if (metadata.issuer !== issuer) throw new Error("metadata issuer mismatch");
  const endpoint = metadata.token_endpoint;
  if (typeof endpoint !== "string" || !isTokenEndpoint(endpoint)) {
    throw new Error("metadata token_endpoint unusable");
  }
  return endpoint;
}

/** RFC 6749 §3.2: the token endpoint is reached over TLS; plain HTTP only on loopback. */
function isTokenEndpoint(endpoint: string): boolean {
  if (!URL.canParse(endpoint)) return false;
  const url = new URL(endpoint);
  if (url.hash !== "" || url.username !== "" || url.password !== "") return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
}

async function boundedText(res: Response): Promise<string> {
  if (Number(res.headers.get("content-length") ?? 0) > MAX_METADATA_BYTES) {
    throw new Error("metadata too large");
  }
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_METADATA_BYTES) {
      await reader.cancel();
      throw new Error("metadata too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
