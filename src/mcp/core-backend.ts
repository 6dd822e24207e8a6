/**
 * The tools' backend for one session: an agent and its user, over a `Broker` (design §5). The
 * same code whichever broker it is: the core in this process (`createBroker`), or a running
 * broker over HTTP (`baton mcp --broker`, mcp/remote-broker.ts). Here, once, the tools' inputs
 * become the core's request types.
 *
 * @module mcp/core-backend
 */

import {
  type Broker,
  type Caller,
  createBroker,
  type ExchangeDeps,
  type PresentedTokens,
  type TokenExchangeRequest,
} from "../exchange/broker.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";
import type { ExchangeInput, ToolBackend } from "./backend.js";

export interface SessionOptions {
  /**
   * Whether the session's user may decide approvals in this client (elicitation). Only where
   * the broker itself checks the session's subject token as the person deciding: not through a
   * remote broker, which decides only on its page or at its CLI.
   */
  readonly userDecides: boolean;
}

/**
 * @param sessionToken the session's subject token: `BATON_SUBJECT_TOKEN`, a development token,
 *   or the bearer token of an HTTP session. Read per call, so a refreshed one is used.
 */
export function sessionBackend(
  broker: Broker,
  caller: Caller,
  sessionToken: () => Promise<string>,
  options: SessionOptions,
): ToolBackend {
  const presented = async (): Promise<PresentedTokens> => ({
    subjectToken: await sessionToken(),
    subjectTokenType: TOKEN_TYPE.jwt,
  });
  return {
    async describe(taskId) {
      return broker.describe({ ...(await presented()), ...(taskId ? { taskId } : {}) }, caller);
    },
    async exchange(input) {
      const result = await broker.exchange(await toRequest(input, sessionToken), caller);
      return {
        token: result.token,
        issuedTokenType: result.issuedTokenType,
        tokenType: result.tokenType,
        expiresIn: result.expiresIn,
        scopes: result.scopes,
        ...(result.txn === undefined ? {} : { taskId: result.txn }),
      };
    },
    revoke(token) {
      return broker.revoke(token, caller);
    },
    async startTask(input) {
      return broker.startTask({ ...input, ...(await presented()) }, caller);
    },
    async endTask(taskId) {
      await broker.endTask({ taskId, ...(await presented()) }, caller);
    },
    approvalStatus(approvalId) {
      return broker.approvalStatus(approvalId, caller);
    },
    ...(options.userDecides
      ? {
          async decideAsUser(approvalId: string, decision: "approved" | "denied") {
            await broker.decideApproval({ approvalId, decision, ...(await presented()) }, caller);
          },
        }
      : {}),
  };
}

/** A session on the core in this process: its user decides in their own client. */
export function coreBackend(
  core: Broker | ExchangeDeps,
  caller: Caller,
  sessionToken: () => Promise<string>,
): ToolBackend {
  const broker = "exchange" in core ? core : createBroker(core);
  return sessionBackend(broker, caller, sessionToken, { userDecides: true });
}

/** The same request a client would send to `POST /token` (RFC 8693 §2.1). */
export async function toRequest(
  input: ExchangeInput,
  sessionToken: () => Promise<string>,
): Promise<TokenExchangeRequest> {
  // `api` is an API id or its resource URI (RFC 8707): only a URI has a scheme and "//".
  const isUri = input.target.includes("://");
  return {
    subjectToken: input.subjectToken ?? (await sessionToken()),
    subjectTokenType: TOKEN_TYPE.jwt,
    requestedTokenType: input.kind === "delegation" ? TOKEN_TYPE.jwt : TOKEN_TYPE.accessToken,
    resources: isUri ? [input.target] : [],
    audiences: isUri ? [] : [input.target],
    scopes: input.scopes,
    ...(input.ttlSeconds === undefined ? {} : { ttlSeconds: input.ttlSeconds }),
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.taskId === undefined ? {} : { taskId: input.taskId }),
    ...(input.approvalId === undefined ? {} : { approvalId: input.approvalId }),
  };
}
