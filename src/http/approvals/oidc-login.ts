/**
 * Approvers sign in to the approval page with an OpenID Provider (policy
 * `broker.approval_login`): the authorization code flow of OpenID Connect Core §3.1 with PKCE
 * (RFC 7636, S256), a nonce, and `state` bound to the browser by a cookie (RFC 6749 §10.12:
 * no login CSRF). oauth4webapi does the protocol checks: discovery (the `issuer` must match),
 * the authorization response (RFC 9207 `iss` when sent), the token response and the ID token
 * (iss, aud, exp, iat, nonce). Its signature is checked against the provider's JWKS too, though
 * it came straight from the token endpoint (OIDC Core §3.1.3.7 would allow trusting TLS).
 *
 * The client is confidential when BATON_APPROVAL_LOGIN_SECRET is set (client_secret_basic),
 * public otherwise (PKCE only). Plain http is allowed only for a loopback provider (dev, tests).
 *
 * @module http/approvals/oidc-login
 */

import * as oauth from "oauth4webapi";
import { BatonError } from "../../errors.js";
import type { ServingBroker } from "../../exchange/broker.js";
import type { ApprovalLogin } from "../../policy/types.js";
import {
  type ApproverSession,
  type SessionDeps,
  signInAs,
  startProviderLogin,
  takeProviderLogin,
} from "./approver-session.js";

/** A sign-in refused; its message is for the person at the page (fixed text, no details). */
export class LoginRefused extends Error {
  override name = "LoginRefused";
}

export interface ProviderSignIn {
  /** Where to send the browser, and the `state` to bind to it (a cookie). */
  begin(next: string): Promise<{ url: string; state: string }>;
  /** The callback: the session of the person the provider vouched for, and where to go. */
  finish(
    callback: URL,
    browserState: string | undefined,
  ): Promise<{ session: ApproverSession; next: string | undefined }>;
}

/** The path of the callback, under the broker's issuer: the redirect URI to register. */
export const CALLBACK_PATH = "/approvals/login/callback";

/** Provider metadata is read again after this long (keys rotate, endpoints move). */
const METADATA_TTL_MS = 3_600_000;

/** The relying party's parts that both legs of the flow share. */
interface RelyingParty {
  readonly sessions: SessionDeps;
  readonly clientSecret: string | undefined;
  /** The callback under the broker's issuer: the redirect URI registered at the provider. */
  readonly redirectUri: string;
  /** The policy's `broker.approval_login` now (hot-reloaded), or a refusal when there is none. */
  settings(): ApprovalLogin;
  /** oauth4webapi's request options: plain http only for a loopback provider. */
  options(issuer: string): { [oauth.allowInsecureRequests]?: boolean };
  discover(issuer: string): Promise<oauth.AuthorizationServer>;
  /** Unexpected failures are logged for the operator; the person sees fixed text. */
  refuse(err: unknown, message: string): never;
}

export function providerSignIn(
  broker: ServingBroker,
  sessions: SessionDeps,
  clientSecret: string | undefined,
  onError: (err: unknown) => void,
): ProviderSignIn {
  const metadata = new Map<string, { as: oauth.AuthorizationServer; at: number }>();
  const insecure = (issuer: string) => {
    const { protocol, hostname } = new URL(issuer);
    return protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
  };
  const rp: RelyingParty = {
    sessions,
    clientSecret,
    redirectUri: `${broker.issuer}${CALLBACK_PATH}`,
    settings() {
      const login = broker.policy().broker.approvalLogin;
      if (!login) throw new LoginRefused("Sign-in with an identity provider is not set up here.");
      return login;
    },
    options: (issuer) => (insecure(issuer) ? { [oauth.allowInsecureRequests]: true } : {}),
    async discover(issuer) {
      const known = metadata.get(issuer);
      if (known && Date.now() - known.at < METADATA_TTL_MS) return known.as;
      const url = new URL(issuer);
      const as = await oauth.processDiscoveryResponse(
        url,
        await oauth.discoveryRequest(url, { algorithm: "oidc", ...rp.options(issuer) }),
      );
      metadata.set(issuer, { as, at: Date.now() });
      return as;
    },
    refuse(err, message) {
      // Refusals pass as they are; so does a store outage (503: fail closed, logged elsewhere).
      if (err instanceof LoginRefused || err instanceof BatonError) throw err;
      // Name and message only: oauth4webapi's errors can carry the provider's response (its
      // tokens included) in `cause`, and no token may reach a log (rule 9).
      const { name, message: why } = err instanceof Error ? err : new Error(String(err));
      onError(new Error(`approval sign-in at the identity provider failed: ${name}: ${why}`));
      throw new LoginRefused(message);
    },
  };
  return {
    begin: (next) => begin(rp, next),
    finish: (callback, browserState) => finish(rp, callback, browserState),
  };
}

/** Leaves for the provider: PKCE, a nonce, and a `state` remembered in the store. */
async function begin(rp: RelyingParty, next: string): Promise<{ url: string; state: string }> {
  const login = rp.settings();
  const as = await rp
    .discover(login.issuer)
    .catch((err) =>
      rp.refuse(err, "The identity provider cannot be reached now. Try again later."),
    );
  if (as.authorization_endpoint === undefined) {
    rp.refuse(new Error("the provider has no authorization_endpoint"), "Sign-in is not available.");
  }
  const verifier = oauth.generateRandomCodeVerifier();
  const nonce = oauth.generateRandomNonce();
  const state = await startProviderLogin(rp.sessions, { nonce, verifier, next });
  const url = new URL(as.authorization_endpoint as string);
  url.searchParams.set("client_id", login.clientId);
  url.searchParams.set("redirect_uri", rp.redirectUri);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", login.claim === "email" ? "openid email" : "openid");
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  return { url: url.href, state };
}

/** The callback: the code redeemed, the ID token checked, a session for the person it names. */
async function finish(
  rp: RelyingParty,
  callback: URL,
  browserState: string | undefined,
): Promise<{ session: ApproverSession; next: string | undefined }> {
  const login = rp.settings();
  const state = callback.searchParams.get("state");
  // The state must be the one this browser left with (login CSRF), and unused.
  if (state === null || browserState === undefined || state !== browserState) {
    throw new LoginRefused("That sign-in was not started in this browser.");
  }
  const pending = await takeProviderLogin(rp.sessions, state);
  if (!pending) throw new LoginRefused("That sign-in has expired or was already used.");
  try {
    const as = await rp.discover(login.issuer);
    const client: oauth.Client = { client_id: login.clientId };
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(as, client, callback, state);
    } catch (err) {
      // The provider said no (the person cancelled, or it refused the client).
      if (err instanceof oauth.AuthorizationResponseError) {
        throw new LoginRefused("The identity provider did not sign you in.");
      }
      throw err;
    }
    const auth = rp.clientSecret ? oauth.ClientSecretBasic(rp.clientSecret) : oauth.None();
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      auth,
      params,
      rp.redirectUri,
      pending.verifier,
      rp.options(login.issuer),
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: pending.nonce,
      requireIdToken: true,
    });
    await oauth.validateApplicationLevelSignature(as, response, rp.options(login.issuer));
    const person = personOf(oauth.getValidatedIdTokenClaims(result), login);
    return { session: await signInAs(rp.sessions, person), next: pending.next };
  } catch (err) {
    return rp.refuse(err, "The identity provider's answer was not accepted.");
  }
}

/** The person the ID token names: its `sub`, or its verified `email`. */
function personOf(claims: oauth.IDToken | undefined, login: ApprovalLogin): string {
  if (!claims) throw new Error("no ID token");
  if (login.claim === "sub") return claims.sub;
  if (typeof claims.email !== "string" || claims.email_verified !== true) {
    throw new LoginRefused("Your identity provider did not give a verified email address.");
  }
  return claims.email;
}
