/**
 * What `baton serve` prints when it is ready: the URLs, and a copy-paste way to try an
 * exchange. It shows commands, never a token or a secret value.
 *
 * @module cli/banner
 */

import type { Policy } from "../policy/types.js";
import { redactedStoreUrl } from "../store/store-url.js";

export function serveBanner(
  issuer: string,
  policy: Policy,
  policiesDir: string,
  storeUrl: string,
  keysSealed = false,
): string {
  const lines = [
    `Baton is serving on ${issuer}`,
    "",
    `  metadata       ${issuer}/.well-known/oauth-authorization-server`,
    `  jwks           ${issuer}/.well-known/jwks.json`,
    `  token          POST ${issuer}/token`,
    `  introspection  POST ${issuer}/introspect`,
    `  revocation     POST ${issuer}/revoke`,
    "",
    `  policies       ${policiesDir} (${policy.apis.size} APIs, ${policy.agents.size} agents)`,
    `  store          ${redactedStoreUrl(storeUrl)}`,
    `  signing keys   ${keysSealed ? "sealed with the key secret" : "not encrypted at rest (set BATON_KEY_SECRET to seal them)"}`,
  ];
  const example = tryItExample(issuer, policy);
  if (example) lines.push("", "Try an exchange (in another terminal):", "", ...example);
  return `${lines.join("\n")}\n`;
}

/** A dev-token + curl example for the first agent and one of its non-elevated scopes. */
function tryItExample(issuer: string, policy: Policy): string[] | undefined {
  if (!policy.broker.devIssuer) return undefined;
  for (const agent of policy.agents.values()) {
    if (!agent.secretSha256 || agent.disabled) continue;
    const scope = [...agent.scopes].find((s) => policy.scopes.get(s)?.approval === undefined);
    const api = scope === undefined ? undefined : policy.scopes.get(scope)?.api;
    if (scope === undefined || api === undefined) continue;
    return [
      "  SUBJECT=$(npx baton dev-token --user alice@example.com)",
      `  curl -s -u ${agent.id}:$CLIENT_SECRET ${issuer}/token \\`,
      "    -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\",
      '    -d subject_token="$SUBJECT" \\',
      "    -d subject_token_type=urn:ietf:params:oauth:token-type:jwt \\",
      `    -d audience=${api} -d scope=${scope}`,
      "",
      `  (CLIENT_SECRET is ${agent.id}'s secret; the demo policies say which in their comments.)`,
    ];
  }
  return undefined;
}
