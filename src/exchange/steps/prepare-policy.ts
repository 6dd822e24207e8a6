/**
 * Builds what a policy needs at run time (one verifier per trusted issuer) once per load, so
 * that nothing parses a policy or imports a key per request.
 *
 * @module exchange/steps/prepare-policy
 */

import type { Policy } from "../../policy/types.js";
import { type IssuerVerifier, issuerVerifier } from "../../tokens/verify.js";
import type { ActivePolicy, ExchangeDeps } from "../types.js";

export function preparePolicy(policy: Policy): ActivePolicy {
  const issuerVerifiers = new Map<string, IssuerVerifier>();
  for (const [iss, trusted] of policy.issuers) {
    issuerVerifiers.set(iss, issuerVerifier(trusted, policy.broker.clockSkew));
  }
  return { policy, issuerVerifiers };
}

/**
 * The deps with the policy in force now pinned: one request sees one policy from start to end,
 * whatever reload happens meanwhile (issue 9: decided by exactly one version).
 */
export function pinPolicy(deps: ExchangeDeps): ExchangeDeps {
  const active = deps.active();
  return { ...deps, active: () => active };
}
