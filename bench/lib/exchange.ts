/**
 * Single `/token` requests, made before a load to prove it measures successes: a 200 with an
 * access token, whose claims are what the scenario claims to measure.
 */

import { decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import { basicAuth } from "./fixture.js";

export interface TokenResponse {
  readonly access_token: string;
  readonly issued_token_type: string;
  readonly token_type: string;
  readonly expires_in: number;
  readonly scope?: string;
}

export const FORM = "application/x-www-form-urlencoded";

/** POST `body` to `url` as client `id`; the token response, or an error with what came back. */
export async function exchange(
  url: string,
  id: string,
  secret: string,
  body: string,
): Promise<TokenResponse> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": FORM, authorization: basicAuth(id, secret) },
    body,
  });
  const text = await res.text();
  let json: Partial<TokenResponse> = {};
  try {
    json = JSON.parse(text) as Partial<TokenResponse>;
  } catch {
    // Reported below.
  }
  if (res.status !== 200 || typeof json.access_token !== "string") {
    throw new Error(`${url} as ${id}: ${res.status} ${text.slice(0, 300)}`);
  }
  return json as TokenResponse;
}

/** The agents of a token's `act` claim, outermost (current) first. */
export function actChain(claims: JWTPayload): string[] {
  const chain: string[] = [];
  let act = claims.act as { sub?: string; act?: unknown } | undefined;
  while (act && typeof act === "object") {
    chain.push(String(act.sub));
    act = act.act as typeof act | undefined;
  }
  return chain;
}

/** Checks an issued access token: its signing alg, its audience and its act chain. */
export function checkAccessToken(
  token: string,
  expected: { alg: string; aud: string; chain: readonly string[] },
): JWTPayload {
  const header = decodeProtectedHeader(token);
  const claims = decodeJwt(token);
  const chain = actChain(claims);
  const problems = [
    header.alg === expected.alg ? "" : `alg ${header.alg}, expected ${expected.alg}`,
    claims.aud === expected.aud ? "" : `aud ${String(claims.aud)}, expected ${expected.aud}`,
    chain.join(">") === expected.chain.join(">")
      ? ""
      : `act ${chain.join(">")}, expected ${expected.chain.join(">")}`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`issued token: ${problems.join("; ")}`);
  return claims;
}
