/**
 * A refusal's rule in plain words, for `baton audit --denied` (issue 17): the operator asking
 * "why did this fail?" reads a sentence, not `subject.untrusted_issuer`. The words are for the
 * operator, who may see what a caller never does (the wire keeps one description per code).
 *
 * @module cli/rule-words
 */

import type { Rule, VerifierRule } from "../errors.js";

/** Every rule of the union: the `Record` type makes a new rule without words a compile error. */
export const RULE_WORDS: Readonly<Record<Exclude<Rule, VerifierRule>, string>> = {
  "request.malformed": "the request was not a well-formed token request",
  "request.grant_type": "the grant_type is not one this broker supports",
  "request.repeated": "a parameter was given more than once",
  "request.too_large": "the request body was too large",
  "request.content_type": "the request body was not application/x-www-form-urlencoded",
  "request.charset": "the request body declared a charset other than UTF-8",
  "request.encoding": "the request body was not valid UTF-8 form data",
  "request.aborted": "the client hung up before the request body was complete",
  "request.target_missing": "the request named no resource or audience",
  "request.audience_missing":
    "a delegation token was asked for without naming the sub-agent (audience)",
  "client.id_missing": "the client did not say which agent it is",
  "client.id_mismatch": "the client_id in the request differs from the one it authenticated as",
  "client.many_methods": "the client used more than one way to authenticate at once",
  "client.basic_malformed": "the HTTP Basic credentials could not be read",
  "client.auth": "the agent's credentials could not be checked",
  "client.auth_missing": "the client sent no credentials",
  "client.secret": "the agent is unknown or its client secret is wrong",
  "client.disabled": "the agent is disabled in the policy and may not exchange tokens",
  "client.assertion_type": "the client assertion type is not supported",
  "client.assertion_id": "the client assertion names another client than client_id",
  "client.assertion_unknown":
    "the client assertion's agent is unknown or has no JWKS in the policy",
  "client.assertion_sub": "the client assertion's sub is not its issuer (the client id)",
  "client.assertion_lifetime": "the client assertion lives longer than allowed",
  "client.assertion_replay": "the client assertion was already used once",
  "subject.type": "the subject_token_type does not fit the subject token",
  "subject.claims": "the subject token lacks claims it needs or carries malformed ones",
  "subject.claim.aud": "the subject token is not addressed to this broker (aud)",
  "subject.untrusted_issuer":
    "the subject token's issuer is not trusted by this broker (was it minted for another port or issuer?)",
  "subject.dev_issuer_off":
    "the subject token is from the development issuer, which the policy has turned off",
  "subject.session": "the subject token is for another user than the MCP session's",
  "subject.revoked": "the subject token, or one it was derived from, was revoked",
  "subject.agent_sub": "the subject token's user is an agent id: a subject must be a person",
  "subject.delegation_edge":
    "the subject token's chain has a delegation the policy no longer allows (delegate_to)",
  "subject.may_act": "the delegation token is for another agent (may_act)",
  "subject.holder": "the subject token was issued for another agent (azp)",
  "subject.holder_conflict": "the subject token names two different holders (azp and client_id)",
  "subject.expired": "the subject token has expired",
  "subject.delegated_only":
    "the agent is delegated_only: it acts only on a delegation token naming it, not on a user's own token",
  "actor.type": "the actor_token_type is not supported",
  "actor.lifetime": "the self-signed actor token lives longer than allowed",
  "actor.untrusted_issuer": "the actor token's issuer is not trusted",
  "actor.not_caller": "the actor token names another agent than the one that authenticated",
  "actor.jti": "the actor token has no usable jti",
  "actor.replay": "the actor token was already used once",
  "assertion.missing": "the JWT bearer grant came without its assertion (the ID-JAG)",
  "assertion.untrusted_issuer": "the ID-JAG's issuer is not trusted by this broker",
  "assertion.not_id_jag_issuer":
    "the ID-JAG's issuer is trusted, but not for ID-JAGs (id_jag: true in its issuers entry)",
  "assertion.typ": "the assertion is not an ID-JAG (its typ is not oauth-id-jag+jwt)",
  "assertion.claims": "the ID-JAG's signature, claims or times could not be accepted",
  "assertion.audience": "the ID-JAG was issued for another authorization server (aud)",
  "assertion.client": "the ID-JAG's client_id is not the agent that presented it",
  "assertion.resource": "the ID-JAG's resource is none of this broker's APIs",
  "assertion.lifetime": "the ID-JAG lives longer than its issuer's max_token_lifetime allows",
  "assertion.replay": "the ID-JAG was already redeemed once (its jti)",
  "assertion.revoked": "the ID-JAG, or a token it was derived from, was revoked",
  "assertion.tenant":
    "the ID-JAG names a tenant: its sub is unique only with it, and Baton keys users on sub (trust each tenant's own issuer URL instead)",
  "assertion.bound":
    "the ID-JAG is bound to a key (cnf) or carries authorization_details, which Baton cannot honour",
  "assertion.own": "the ID-JAG was issued by this broker itself, which never redeems its own",
  "bearer.agent": "the bearer token's agent is unknown or disabled",
  "bearer.revoked": "the bearer token, or one it was derived from, was revoked",
  "bearer.invalid": "the bearer token is not valid",
  "chain.cycle": "the agent is already in the delegation chain (no cycles)",
  "chain.depth": "the delegation chain would be longer than max_depth",
  "narrow.scope.none": "no scope was requested and the API has no default scopes",
  "narrow.scope.unknown": "a requested scope is not in the policy",
  "narrow.scope.api": "a requested scope belongs to another API",
  "narrow.scope.agent": "a requested scope is not among the agent's scopes in the policy",
  "narrow.scope.delegate": "a requested scope is more than the sub-agent may receive",
  "narrow.scope.subject": "a requested scope is more than the subject token carries",
  "narrow.scope.task": "a requested scope is outside the task's ceiling",
  "narrow.scope.delegator": "a requested scope is no longer allowed for an agent that delegated it",
  "target.resource_form": "the resource is not an absolute URI without a fragment",
  "target.many": "more than one target was requested: one token is for one API",
  "target.delegation_resource": "a delegation token was asked for with a resource (audience only)",
  "target.unknown": "the requested API (audience or resource) is not in the policy",
  "target.id_jag_only":
    "the API sits behind its own authorization server: ask for an ID-JAG for it, not an access token",
  "target.not_id_jag": "an ID-JAG was asked for an API that names no authorization_server",
  "target.client_id":
    "the API's client_ids give this agent no client_id at its authorization server",
  "delegate.edge": "the policy does not let this agent delegate to that sub-agent (delegate_to)",
  "task.nested": "a task cannot be opened inside another task",
  "task.ceiling_source":
    "a task needs either scopes or a template for its ceiling, not both or neither",
  "task.template": "the task template is not in the policy",
  "task.unknown": "the task is not known",
  "task.mismatch": "the subject token belongs to another task",
  "task.not_opener": "only the agent that opened the task may do this",
  "task.ended": "the task has ended",
  "task.deadline": "the task's deadline has passed",
  "task.approval_missing": "the task's approval is gone",
  "task.budget": "the task has issued all the tokens its budget allows",
  "approval.pending": "the request waits for a human approval",
  "approval.denied": "a human denied the approval",
  "approval.expired": "the approval expired before it was used",
  "approval.used": "the approval was already used once",
  "approval.mismatch": "the approval does not cover this exact request",
  "approval.unknown": "the approval is not known (or is another client's)",
  "approval.cap": "the agent has too many approval requests open",
  "approval.not_approver": "the person deciding is not an approver of this request",
  "approval.decided": "the approval was already decided",
  "approval.remote_decision": "approvals are decided on the broker's approval page, not remotely",
  "revoke.not_party": "the caller may not revoke this token",
  "dev_issuer.off": "the development issuer is off in the policy (broker.dev_issuer)",
  "dev_issuer.agent": "the development token names an agent that is not in the policy",
  "dev_issuer.agent_user": "the development token's user is an agent id, not a person",
  "dev_issuer.approvals_token": "a token for the approval page names no agent and no scope",
  "rate_limit.agent": "the agent made too many requests (rate limit)",
  "rate_limit.subject": "too many requests for this user (rate limit)",
  "rate_limit.client_auth": "too many failed authentications by this client (rate limit)",
  "store.unavailable": "the store did not answer, so nothing was issued (fail closed)",
  "audit.unavailable": "the audit log could not be written, so nothing was issued (fail closed)",
  internal: "an internal error in the broker (see its log)",
  remote: "the remote broker refused (see its audit log)",
};

/** What a token is, by the role the verifier checked it in (`subject.kid`, `actor.claim.iat`). */
const ROLES: Readonly<Record<string, string>> = {
  subject: "the subject token",
  actor: "the actor token",
  bearer: "the bearer token",
  "client.assertion": "the client assertion",
};

/** The verifier's findings (tokens/verify.ts, tokens/jws.ts, jose's error codes). */
const FINDINGS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^oversized$/, "is too long"],
  [/^malformed$|^jw[st]_invalid$/, "is not a well-formed JWT"],
  [/^alg$|^jose_alg_not_allowed$/, "is signed with an algorithm that is not allowed"],
  [/^crit$/, "has a critical header this broker does not understand"],
  [/^signature$|^jws_signature_verification_failed$/, "has a signature that does not verify"],
  [/^kid$|^key$|^jwks_no_matching_key$/, "is signed with a key this broker does not know"],
  [/^expired$|^jwt_expired$/, "has expired"],
  [/^lifetime$/, "lives longer than allowed"],
  [/^claim\.iss$/, "has an issuer (iss) that is not the expected one"],
  [/^claim\.aud$/, "is not addressed to this broker (aud)"],
  [/^claim\.(iat|nbf)$/, "is not valid yet, or its issue time is in the future"],
  [/^claim\.typ$/, "has the wrong type (typ)"],
];

/** The rule in plain words; a rule without words (a newer broker's) is shown as it is. */
export function ruleWords(rule: string): string {
  const known = (RULE_WORDS as Readonly<Record<string, string>>)[rule];
  if (known !== undefined) return known;
  const role = Object.keys(ROLES).find((r) => rule.startsWith(`${r}.`));
  if (role === undefined) return `refused by rule ${rule}`;
  const finding = rule.slice(role.length + 1);
  const claim = /^claim\.(\w+)$/.exec(finding)?.[1];
  const words =
    FINDINGS.find(([pattern]) => pattern.test(finding))?.[1] ??
    (claim === undefined ? `was refused (${finding})` : `has a missing or bad ${claim} claim`);
  return `${ROLES[role]} ${words}`;
}
