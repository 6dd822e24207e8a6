/**
 * RFC 7662 introspection as a protected resource: asks the issuer whether a token it verified
 * locally is still active (not revoked, its task not ended).
 *
 * @module verify/introspection
 */

import { BearerError } from "./bearer-error.js";

export interface IntrospectionClient {
  /**
   * The client id the resource server authenticates as (RFC 7662 §2.1). Baton answers it in
   * full only for tokens of the APIs its policy entry names in `introspects` (RFC 7662 §4);
   * for any other token it says `active: false`, so a client without it refuses every token.
   */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default: `introspection_endpoint` from the issuer's metadata. */
  readonly endpoint?: string;
}

/** Throws `invalid_token` unless the issuer says the token is active. */
export async function requireActive(
  endpoint: string,
  client: IntrospectionClient,
  token: string,
  timeoutMs: number,
): Promise<void> {
  let body: { active?: unknown };
  try {
    const res = await fetch(endpoint, {
      method: "POST",
      headers: {
        authorization: basicAuth(client),
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    body = (await res.json()) as { active?: unknown };
  } catch {
    // Fail closed: a token that cannot be checked is not accepted.
    throw new BearerError("temporarily_unavailable", "introspection.unreachable");
  }
  // RFC 7662 §2.2: anything but `active: true` is an inactive token (revoked, expired, or, §4,
  // one this client is not entitled to see: Baton does not tell these apart).
  if (body.active !== true) throw new BearerError("invalid_token", "revoked");
}

/** RFC 6749 §2.3.1: each part form-urlencoded before Base64. */
function basicAuth({ clientId, clientSecret }: IntrospectionClient): string {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  // btoa, not Buffer: the helper also runs where hono does (edge runtimes). The input is ASCII.
  return `Basic ${btoa(`${encode(clientId)}:${encode(clientSecret)}`)}`;
}
