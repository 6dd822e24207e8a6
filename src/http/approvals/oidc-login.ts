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
import {
  type ApproverSession,
  signInAsProvided,
  startProviderLogin,
  takeProviderLogin,
} from "../../exchange/approver-session.js";
import type { ExchangeDeps } from "../../exchange/types.js";
import type { ApprovalLogin } from "../../policy/types.js";

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

export function providerSignIn(
  deps: ExchangeDeps,
  clientSecret: string | undefined,
  onError: (err: unknown) => void,
): ProviderSignIn {
  const redirectUri = `${deps.issuer}${CALLBACK_PATH}`;
  const metadata = new Map<string, { as: oauth.AuthorizationServer; at: number }>();

  const settings = (): ApprovalLogin => {
    const login = deps.active().policy.broker.approvalLogin;
    if (!login) throw new LoginRefused("Sign-in with an identity provider is not set up here.");
    return login;
  };
  const insecure = (issuer: string) => {
    const { protocol, hostname } = new URL(issuer);
    return protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
  };
  const options = (issuer: string) =>
    insecure(issuer) ? { [oauth.allowInsecureRequests]: true } : {};

  const discover = async (issuer: string): Promise<oauth.AuthorizationServer> => {
    const known = metadata.get(issuer);
    if (known && Date.now() - known.at < METADATA_TTL_MS) return known.as;
    const url = new URL(issuer);
    const as = await oauth.processDiscoveryResponse(
      url,
      await oauth.discoveryRequest(url, { algorithm: "oidc", ...options(issuer) }),
    );
    metadata.set(issuer, { as, at: Date.now() });
    return as;
  };

  /** Unexpected failures are logged for the operator; the person sees fixed text. */
  const refuse = (err: unknown, message: string): never => {
    // Refusals pass as they are; so does a store outage (503: fail closed, logged elsewhere).
    if (err instanceof LoginRefused || err instanceof BatonError) throw err;
    // Name and message only: oauth4webapi's errors can carry the provider's response (its
    // tokens included) in `cause`, and no token may reach a log (rule 9).
    const { name, message: why } = err instanceof Error ? err : new Error(String(err));
    onError(new Error(`approval sign-in at the identity provider failed: ${name}: ${why}`));
    throw new LoginRefused(message);
  };

  return {
    async begin(next) {
      const login = settings();
      const as = await discover(login.issuer).catch((err) =>
        refuse(err, "The identity provider cannot be reached now. Try again later."),
      );
      if (as.authorization_endpoint === undefined) {
        refuse(
          new Error("the provider has no authorization_endpoint"),
          "Sign-in is not available.",
        );
      }
      const verifier = oauth.generateRandomCodeVerifier();
      const nonce = oauth.generateRandomNonce();
      const state = await startProviderLogin(deps, { nonce, verifier, next });
      const url = new URL(as.authorization_endpoint as string);
      url.searchParams.set("client_id", login.clientId);
      url.searchParams.set("redirect_uri", redirectUri);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("scope", login.claim === "email" ? "openid email" : "openid");
      url.searchParams.set("state", state);
      url.searchParams.set("nonce", nonce);
      url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
      url.searchParams.set("code_challenge_method", "S256");
      return { url: url.href, state };
    },

    async finish(callback, browserState) {
      const login = settings();
      const state = callback.searchParams.get("state");
      // The state must be the one this browser left with (login CSRF), and unused.
      if (state === null || browserState === undefined || state !== browserState) {
        throw new LoginRefused("That sign-in was not started in this browser.");
      }
      const pending = await takeProviderLogin(deps, state);
      if (!pending) throw new LoginRefused("That sign-in has expired or was already used.");
      try {
        const as = await discover(login.issuer);
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
        const auth = clientSecret ? oauth.ClientSecretBasic(clientSecret) : oauth.None();
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          auth,
          params,
          redirectUri,
          pending.verifier,
          options(login.issuer),
        );
        const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: pending.nonce,
          requireIdToken: true,
        });
        await oauth.validateApplicationLevelSignature(as, response, options(login.issuer));
        const claims = oauth.getValidatedIdTokenClaims(result);
        const person = personOf(claims, login);
        return { session: await signInAsProvided(deps, person), next: pending.next };
      } catch (err) {
        return refuse(err, "The identity provider's answer was not accepted.");
      }
    },
  };
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
