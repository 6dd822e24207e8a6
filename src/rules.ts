/**
 * Rules: why a refusal happened, by the part of the broker that applies it (design §5). A
 * refusal carries one as data (errors.ts); the doors turn it into words (cli/rule-words.ts,
 * mcp/hints.ts). A typo in a rule is a compile error.
 *
 * @module rules
 */

export type Rule =
  | `request.${"malformed" | "grant_type" | "repeated" | "too_large" | "content_type"}`
  | `request.${"charset" | "encoding" | "aborted" | "target_missing" | "audience_missing"}`
  | `client.${"id_missing" | "id_mismatch" | "many_methods" | "basic_malformed" | "auth"}`
  | `client.${"auth_missing" | "secret" | "disabled" | "assertion_type" | "assertion_id"}`
  | `client.assertion_${"unknown" | "sub" | "lifetime" | "replay"}`
  | `subject.${"type" | "claims" | "claim.aud" | "untrusted_issuer" | "dev_issuer_off"}`
  | `subject.${"session" | "revoked" | "agent_sub" | "delegation_edge" | "may_act"}`
  | `subject.${"holder" | "holder_conflict" | "expired" | "delegated_only"}`
  | `actor.${"type" | "lifetime" | "untrusted_issuer" | "not_caller" | "jti" | "replay"}`
  | `assertion.${"missing" | "untrusted_issuer" | "not_id_jag_issuer" | "typ" | "claims"}`
  | `assertion.${"audience" | "client" | "resource" | "lifetime" | "replay" | "revoked"}`
  | `assertion.${"tenant" | "bound" | "own"}`
  | `bearer.${"agent" | "revoked" | "invalid"}`
  | `chain.${"cycle" | "depth"}`
  | `narrow.scope.${"none" | "unknown" | "api" | "agent" | "delegate" | "subject" | "task"}`
  | "narrow.scope.delegator"
  | `target.${"resource_form" | "many" | "delegation_resource" | "unknown"}`
  | `target.${"id_jag_only" | "not_id_jag" | "client_id"}`
  | "delegate.edge"
  | `task.${"nested" | "ceiling_source" | "template" | "unknown" | "mismatch" | "not_opener"}`
  | `task.${"ended" | "deadline" | "approval_missing" | "budget"}`
  | `approval.${"pending" | "denied" | "expired" | "used" | "mismatch" | "unknown" | "cap"}`
  | `approval.${"not_approver" | "decided" | "remote_decision"}`
  | "revoke.not_party"
  | `dev_issuer.${"off" | "agent" | "agent_user" | "approvals_token"}`
  | `rate_limit.${"agent" | "subject" | "client_auth"}`
  | `${"store" | "audit"}.unavailable`
  | "internal"
  /** A refusal read back off a remote broker's HTTP body, which carries no rule. */
  | "remote"
  | VerifierRule;

/** A verifier's finding (`subject.kid`, `actor.claim.iat`): only `verifierRule` makes one. */
export type VerifierRule = `${string}.${string}` & { readonly __verifier: true };

export const verifierRule = (role: string, finding: string) => `${role}.${finding}` as VerifierRule;
