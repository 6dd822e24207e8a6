/**
 * The tools' backend inside the broker's own process: every call goes to the exchange core,
 * the very functions behind `POST /token`, `/revoke` and `/whoami` (one path, two doors).
 *
 * @module mcp/core-backend
 */

import { approvalStatus } from "../exchange/approval-status.js";
import { decideAsSessionUser } from "../exchange/decide-approval.js";
import { describeSession } from "../exchange/describe-session.js";
import { endTask } from "../exchange/end-task.js";
import { exchangeToken } from "../exchange/exchange.js";
import { revokeToken } from "../exchange/revoke.js";
import { startTask } from "../exchange/start-task.js";
import type { Caller, ExchangeDeps, TokenExchangeRequest } from "../exchange/types.js";
import { TOKEN_TYPE } from "../tokens/token-types.js";
import type { ExchangeInput, ToolBackend } from "./backend.js";

/**
 * @param sessionToken the session's subject token: `BATON_SUBJECT_TOKEN`, a development token,
 *   or the bearer token of an HTTP session. Read per call, so a refreshed one is used.
 */
export function coreBackend(
  deps: ExchangeDeps,
  caller: Caller,
  sessionToken: () => Promise<string>,
): ToolBackend {
  return {
    async describe(taskId) {
      return describeSession(deps, caller, await sessionToken(), TOKEN_TYPE.jwt, taskId);
    },
    async exchange(input) {
      const result = await exchangeToken(deps, await toRequest(input, sessionToken), caller);
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
      return revokeToken(deps, token, caller);
    },
    async startTask(input) {
      return startTask(deps, caller, { ...input, ...(await sessionSubject(sessionToken)) });
    },
    async endTask(taskId) {
      await endTask(deps, caller, taskId, await sessionSubject(sessionToken));
    },
    approvalStatus(approvalId) {
      return approvalStatus(deps, caller, approvalId);
    },
    async decideAsUser(approvalId, decision) {
      await decideAsSessionUser(
        deps,
        caller,
        await sessionSubject(sessionToken),
        approvalId,
        decision,
      );
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
