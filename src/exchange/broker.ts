/**
 * The core's front door (design §5): every operation a door may ask of the broker, each taking
 * a typed request and the authenticated caller, returning a typed result or throwing a typed
 * refusal (`BatonError`, carrying its wire code). The HTTP endpoints and the MCP tools parse
 * their input into these request types, call this, and render what comes back: they differ
 * only in how they authenticate the caller and how they render.
 *
 * `Broker` is the eight operations, the same wherever the core runs: `createBroker(deps)` builds
 * it over the exchange core in this process, and `baton mcp --broker` has one over HTTP
 * (mcp/remote-broker.ts). `ServingBroker` adds what only the process that serves needs: the
 * authentication of callers, readiness, the policy and keys behind discovery, and what the
 * approval page and the operator's desk ask of the core (rule 6: who a person is, what they
 * may see and decide). Door work stays in the doors: forms in http/, the page's browser
 * sessions in http/approvals/, explain's words in cli/.
 *
 * @module exchange/broker
 */

import type { ApprovalRecord } from "../approvals/approval-store.js";
import type { AuditEvent } from "../audit/events.js";
import type { LoggedEvent } from "../audit/task-tree.js";
import { auditUnavailable, type BatonError } from "../errors.js";
import type { Policy } from "../policy/types.js";
import { type ApprovalView, approvalStatus } from "./operations/approval-status.js";
import {
  approvalFor,
  approvalsFor,
  authenticateApprover,
  mayViewTask,
} from "./operations/approvers.js";
import { authenticateBearer, type BearerSession } from "./operations/authenticate-bearer.js";
import { authenticateClient, type ClientCredentials } from "./operations/authenticate-client.js";
import { type Decider, decideApproval, decideAsSessionUser } from "./operations/decide-approval.js";
import { describeSession, type SessionView } from "./operations/describe.js";
import { endTask } from "./operations/end-task.js";
import { exchangeToken } from "./operations/exchange.js";
import { type IntrospectionResponse, introspectToken } from "./operations/introspect.js";
import { redeemIdJag } from "./operations/redeem-id-jag.js";
import { revokeToken } from "./operations/revoke.js";
import { type StartTaskRequest, startTask } from "./operations/start-task.js";
import type { PresentedTokens } from "./steps/accept-subject.js";
import type { TaskView } from "./steps/task-view.js";
import type {
  Caller,
  ExchangeDeps,
  ExchangeResult,
  JwtBearerRequest,
  TokenExchangeRequest,
} from "./types.js";

export type { ApprovalView } from "./operations/approval-status.js";
export type { BearerSession } from "./operations/authenticate-bearer.js";
export type { ClientCredentials } from "./operations/authenticate-client.js";
export type { Decider } from "./operations/decide-approval.js";
export type {
  ApiView,
  DefaultsView,
  DelegateView,
  DelegationView,
  ScopeView,
  SessionView,
  TemplateView,
} from "./operations/describe.js";
// `baton policy explain`: a replay of the planners, pure (no store, no keys).
export {
  ExplainInputError,
  type ExplainQuery,
  type Explanation,
  explainGrant,
  type Fact,
  type Finding,
  type Verdict,
} from "./operations/explain-grant.js";
export type { IntrospectionResponse } from "./operations/introspect.js";
export type { StartTaskRequest } from "./operations/start-task.js";
// The field shapes both doors check their input against.
export {
  ApprovalIdField,
  MAX_REASON_LENGTH,
  MAX_TOKEN_LENGTH,
  TaskIdField,
} from "./request-fields.js";
// What the doors exchange with the core, importable from here alone.
export type {
  Caller,
  ExchangeDeps,
  ExchangeResult,
  JwtBearerRequest,
  PresentedTokens,
  TaskView,
  TokenExchangeRequest,
};

/** `whoami` / `list_apis`: the caller's session as its subject token shows it. */
export interface DescribeRequest extends PresentedTokens {
  /** Inside this task (one the caller opened, or the subject token's own `txn`). */
  readonly taskId?: string;
}

/** `end_task`: the task, and the subject token of the user it was opened for. */
export interface EndTaskRequest extends PresentedTokens {
  readonly taskId: string;
}

/**
 * The session's own user decides an approval in their MCP client (elicitation): the person is
 * the subject of the session's token, never named by the client or a model.
 */
export interface DecideApprovalRequest extends PresentedTokens {
  readonly approvalId: string;
  readonly decision: "approved" | "denied";
}

export interface Broker {
  /** RFC 8693 token exchange: an access token for an API, or a delegation token. */
  exchange(request: TokenExchangeRequest, caller: Caller): Promise<ExchangeResult>;
  startTask(request: StartTaskRequest, caller: Caller): Promise<TaskView>;
  endTask(request: EndTaskRequest, caller: Caller): Promise<{ task_id: string; revoked: true }>;
  /** RFC 7009: true when a live token was revoked, false when there was none to revoke. */
  revoke(token: string, caller: Caller): Promise<boolean>;
  /** RFC 7662, answered in full only to a caller entitled to the answer (§4). */
  introspect(token: string, caller: Caller): Promise<IntrospectionResponse>;
  describe(request: DescribeRequest, caller: Caller): Promise<SessionView>;
  approvalStatus(approvalId: string, caller: Caller): Promise<ApprovalView>;
  decideApproval(request: DecideApprovalRequest, caller: Caller): Promise<void>;
}

export interface ServingBroker extends Broker {
  /** The issuer identifier: `iss` of every token Baton signs. */
  readonly issuer: string;
  /** The policy in force now (what discovery metadata and the doors' texts are built from). */
  policy(): Policy;
  /** The JWKS document: public keys only (RFC 7517). */
  jwks(): { keys: readonly object[] };
  /**
   * Resolves when the broker can issue a token now: its audit log writes and its store
   * answers. Throws `temporarily_unavailable` otherwise (or whatever else went wrong).
   */
  ready(): Promise<void>;

  /**
   * The JWT bearer grant (RFC 7523 §2.1) with an ID-JAG from a trusted issuer marked `id_jag`
   * (draft-ietf-oauth-identity-assertion-authz-grant §4.4): an access token for one of Baton's
   * APIs or for its own `/mcp`. Only at `POST /token`: an MCP session has its user already.
   */
  redeemIdJag(request: JwtBearerRequest, caller: Caller): Promise<ExchangeResult>;

  /** The caller behind client credentials (RFC 6749 §2.3, RFC 7523); `invalid_client` if none. */
  authenticateClient(
    credentials: ClientCredentials,
    /** What a client assertion may name as `aud`: the issuer and the endpoint it was sent to. */
    assertionAudiences: readonly string[],
  ): Promise<Caller>;
  /** The caller and user behind a bearer token at `/mcp` (RFC 6750); `invalid_token` if none. */
  authenticateBearer(token: string): Promise<BearerSession>;
  /**
   * A request the door could not even parse, from an authenticated caller: audited as the
   * core audits its own refusals, so every refused exchange leaves the same trace.
   */
  refused(caller: Caller, error: BatonError): void;

  // The approval page and the operator's desk (rule 6): a human decides, never an agent.
  /**
   * The person a user token for the approval page names (`aud` = `<issuer>/approvals`), or
   * undefined for any token that is not a person's own (an agent's, revoked, for another
   * audience). Throws only `temporarily_unavailable`.
   */
  authenticateApprover(token: string): Promise<string | undefined>;
  /** The recent approvals this decider may decide, newest first, in every state. */
  approvalsFor(decider: Decider): Promise<ApprovalRecord[]>;
  /** One approval, if this decider may decide it; unknown and "not yours" look alike. */
  approvalFor(decider: Decider, approvalId: string): Promise<ApprovalRecord | undefined>;
  /**
   * Decides an approval, once: a signed-in person at the page (audited `via: web`) or the
   * operator at the command line (`via: cli`). Refused `access_denied` for an approval the
   * decider may not decide, and 409 once it is no longer pending.
   */
  decideAs(
    decider: Decider,
    approvalId: string,
    decision: "approved" | "denied",
  ): Promise<ApprovalRecord>;
  /** Issue 8: whether a person may see a task's delegation tree, given the task's events. */
  mayViewTask(person: string, taskId: string, events: readonly LoggedEvent[]): Promise<boolean>;
}

/** A key read (never written) to learn whether the store answers. */
const READINESS_PROBE_KEY = "health:ready";

export function createBroker(deps: ExchangeDeps): ServingBroker {
  return {
    issuer: deps.issuer,
    policy: () => deps.active().policy,
    jwks: () => deps.keys.jwks(),
    async ready() {
      // No audit log, no token (audit/audit-log.ts): a node that cannot record is not ready.
      const failure = deps.audit.failure?.();
      if (failure !== undefined) throw auditUnavailable(failure);
      await deps.store.get(READINESS_PROBE_KEY);
    },
    authenticateClient: (credentials, audiences) =>
      authenticateClient(deps, credentials, audiences),
    authenticateBearer: (token) => authenticateBearer(deps, token),
    refused(caller, error) {
      const event: AuditEvent = {
        type: "exchange.denied",
        error: error.code,
        rule: error.rule,
        agent: caller.agentId,
      };
      deps.audit.record(event);
    },
    exchange: (request, caller) => exchangeToken(deps, request, caller),
    redeemIdJag: (request, caller) => redeemIdJag(deps, request, caller),
    startTask: (request, caller) => startTask(deps, caller, request),
    endTask: ({ taskId, ...presented }, caller) => endTask(deps, caller, taskId, presented),
    revoke: (token, caller) => revokeToken(deps, token, caller),
    introspect: (token, caller) => introspectToken(deps, token, caller),
    describe: (request, caller) =>
      describeSession(deps, caller, request.subjectToken, request.subjectTokenType, request.taskId),
    approvalStatus: (approvalId, caller) => approvalStatus(deps, caller, approvalId),
    authenticateApprover: (token) => authenticateApprover(deps, token),
    approvalsFor: (decider) => approvalsFor(deps, decider),
    approvalFor: (decider, approvalId) => approvalFor(deps, decider, approvalId),
    decideAs: (decider, approvalId, decision) =>
      decideApproval(deps, approvalId, decision, decider, "person" in decider ? "web" : "cli"),
    mayViewTask: (person, taskId, events) => mayViewTask(deps, person, taskId, events),
    decideApproval: ({ approvalId, decision, ...presented }, caller) =>
      decideAsSessionUser(deps, caller, presented, approvalId, decision),
  };
}
