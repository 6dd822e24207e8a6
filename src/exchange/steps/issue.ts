/**
 * Issues a planned grant: sign once (the token names its own lineage, rule 7), audit, append to
 * the task's log, in that order, so that no token leaves without its audit event (rule 8).
 *
 * @module exchange/steps/issue
 */

import type { TokenKind } from "../../audit/events.js";
import { actClaim } from "../../tokens/act.js";
import { newTokenId, signToken } from "../../tokens/mint.js";
import {
  ACCESS_TOKEN_TYP,
  DELEGATION_TOKEN_TYP,
  ID_JAG_TYP,
  TOKEN_TYPE,
} from "../../tokens/token-types.js";
import type { ExchangeDeps, ExchangeResult } from "../types.js";
import type { Grant } from "./grant.js";
import { lineageClaims, type Origin } from "./lineage.js";
import { appendToTaskLog } from "./task-tree-events.js";
import type { Subject } from "./verify-subject.js";

/** Each kind's JOSE `typ` and its RFC 8693 §2.2.1 response types. */
const ISSUED: Record<
  TokenKind,
  { readonly typ: string; readonly issued: string; readonly tokenType: "Bearer" | "N_A" }
> = {
  // RFC 9068 §2.1.
  access: { typ: ACCESS_TOKEN_TYP, issued: TOKEN_TYPE.accessToken, tokenType: "Bearer" },
  delegation: { typ: DELEGATION_TOKEN_TYP, issued: TOKEN_TYPE.jwt, tokenType: "N_A" },
  // draft-ietf-oauth-identity-assertion-authz-grant §4.3.2: "N_A (because this is not an OAuth
  // access token)"; its `typ` is §3's.
  id_jag: { typ: ID_JAG_TYP, issued: TOKEN_TYPE.idJag, tokenType: "N_A" },
};

export interface IssueContext {
  readonly subject: Subject;
  readonly origin: Origin;
  readonly reason: string | undefined;
  readonly now: number;
  readonly policyVersion: string;
}

export async function issue(
  deps: ExchangeDeps,
  grant: Grant,
  { subject, origin, reason, now, policyVersion }: IssueContext,
): Promise<ExchangeResult> {
  const jti = newTokenId();
  const delegation = grant.kind === "delegation";
  const token = await signToken(deps.keys, ISSUED[grant.kind].typ, {
    ...claims(deps, grant, subject, jti, now),
    // Only a delegation token is ever a subject again: only it needs its outside actors.
    ...lineageClaims(origin, delegation),
  });
  const issued = {
    type: "exchange.issued" as const,
    subject: subject.sub,
    chain: grant.chain,
    agent: grant.agent.id,
    kind: grant.kind,
    audience: grant.audience,
    scopes: grant.scopes,
    jti,
    ...(subject.jti ? { parent_jti: subject.jti } : {}),
    exp: grant.exp,
    ...(grant.txn ? { txn: grant.txn } : {}),
    ...(reason ? { reason } : {}),
    policy: policyVersion,
  };
  deps.audit.record(issued);
  // Rule 8, for the audit trail too: the token leaves once its event is in the file, and,
  // inside a task, in the task's log.
  await Promise.all([
    deps.audit.written(),
    grant.txn === undefined ? undefined : appendToTaskLog(deps, grant.txn, grant.exp, issued),
  ]);
  return result(grant, token, jti, now);
}

/** The claims of design §3.4, per kind. */
function claims(
  deps: ExchangeDeps,
  grant: Grant,
  subject: Subject,
  jti: string,
  now: number,
): Record<string, unknown> {
  const act = actClaim(grant.chain);
  const delegation = grant.kind === "delegation";
  return {
    iss: deps.issuer,
    sub: subject.sub,
    aud: delegation ? deps.issuer : grant.aud,
    ...(grant.resource ? { resource: grant.resource } : {}),
    client_id: grant.clientId ?? grant.agent.id,
    scope: grant.scopes.join(" "),
    iat: now,
    exp: grant.exp,
    jti,
    ...(act ? { act } : {}),
    ...(delegation ? { may_act: { sub: grant.audience } } : {}),
    ...(grant.txn ? { txn: grant.txn } : {}),
  };
}

function result(grant: Grant, token: string, jti: string, now: number): ExchangeResult {
  const idJag = grant.kind === "id_jag";
  const resource = idJag ? grant.resource : grant.aud;
  return {
    token,
    kind: grant.kind,
    issuedTokenType: ISSUED[grant.kind].issued,
    tokenType: ISSUED[grant.kind].tokenType,
    expiresIn: grant.exp - now,
    scopes: grant.scopes,
    audience: grant.audience,
    ...(resource ? { resource } : {}),
    ...(idJag && grant.aud ? { authorizationServer: grant.aud } : {}),
    jti,
    exp: grant.exp,
    ...(grant.txn ? { txn: grant.txn } : {}),
  };
}
