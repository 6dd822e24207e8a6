/**
 * The tools' backend inside the broker's own process: every call goes through the core's
 * front door (`Broker`), the very one behind `POST /token`, `/revoke` and `/whoami` (one path,
 * two doors).
 *
 * @module mcp/core-backend
 */

import {
  type Broker,
  type Caller,
  createBroker,
  type ExchangeDeps,
  type TokenExchangeRequest,
} from "../exchange/broker.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";
import type { ExchangeInput, ToolBackend } from "./backend.js";

/**
 * @param sessionToken the session's subject token: `BATON_SUBJECT_TOKEN`, a development token,
 *   or the bearer token of an HTTP session. Read per call, so a refreshed one is used.
 */
export function coreBackend(
  core: Broker | ExchangeDeps,
  caller: Caller,
  sessionToken: () => Promise<string>,
): ToolBackend {
  const broker = "exchange" in core ? core : createBroker(core);
  return {
    async describe(taskId) {
      const presented = await sessionSubject(sessionToken);
      return broker.describe({ ...presented, ...(taskId === undefined ? {} : { taskId }) }, caller);
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
      return broker.startTask({ ...input, ...(await sessionSubject(sessionToken)) }, caller);
    },
    async endTask(taskId) {
      await broker.endTask({ taskId, ...(await sessionSubject(sessionToken)) }, caller);
    },
    approvalStatus(approvalId) {
      return broker.approvalStatus(approvalId, caller);
    },
    async decideAsUser(approvalId, decision) {
      const presented = await sessionSubject(sessionToken);
      await broker.decideAsUser({ approvalId, decision, ...presented }, caller);
    },
  };
}

const sessionSubject = async (sessionToken: () => Promise<string>) => ({
  subjectToken: await sessionToken(),
  subjectTokenType: TOKEN_TYPE.jwt,
});

/** The same request a client would send to `POST /token` (RFC 8693 §2.1). */
export async function toRequest(
  input: ExchangeInput,
  sessionToken: () => Promise<string>,
): Promise<TokenExchangeRequest> {
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
