/**
 * The development issuer: subject tokens for a named user, so the whole flow works with no
 * outside identity provider. Refused unless the policy sets `broker.dev_issuer: true`.
 *
 * @module exchange/operations/issue-dev-token
 */

import { invalidRequest, unauthorizedClient } from "../../errors.js";
import { newTokenId, signToken } from "../../tokens/mint.js";
import { DEV_TOKEN_TYP } from "../../tokens/token-types.js";
import { approvalsAudienceOf, devIssuerOf, mcpResourceOf } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";

export interface DevTokenRequest {
  readonly user: string;
  /** The agent that alone may exchange it (`azp`). */
  readonly agent?: string;
  /** When given, the token's `scope` bounds everything derived from it. */
  readonly scopes?: readonly string[];
  /** Seconds. */
  readonly ttl: number;
  /**
   * `broker` (default): a subject token for agents, at `/token` and `/mcp`. `approvals`: the
   * person's own sign-in token for the approval page, which no agent can exchange.
   */
  readonly for?: "broker" | "approvals";
}

export async function issueDevToken(deps: ExchangeDeps, request: DevTokenRequest): Promise<string> {
  const { policy } = deps.active();
  if (!policy.broker.devIssuer) {
    throw unauthorizedClient(
      "dev_issuer.off",
      "The development issuer is off: set broker.dev_issuer: true in the policy",
    );
  }
  if (request.agent !== undefined && !policy.agents.has(request.agent)) {
    throw invalidRequest("The agent is not in the policy", "dev_issuer.agent");
  }
  // The broker would refuse it as a subject token (accept-subject.ts): an agent is no user.
  if (policy.agents.has(request.user)) {
    throw invalidRequest(
      "The user is an agent id: a subject token is for a person, not an agent",
      "dev_issuer.agent_user",
    );
  }
  if (request.for === "approvals" && (request.agent ?? request.scopes) !== undefined) {
    throw invalidRequest(
      "A token for the approval page names no agent and no scope",
      "dev_issuer.approvals_token",
    );
  }
  const now = deps.clock.now();
  const jti = newTokenId();
  const exp = now + request.ttl;
  const token = await signToken(deps.keys, DEV_TOKEN_TYP, {
    iss: devIssuerOf(deps.issuer),
    // For the broker: as a subject token at /token, and as the bearer token at /mcp; or only
    // for the approval page, where an agent's token never signs in.
    aud:
      request.for === "approvals"
        ? approvalsAudienceOf(deps.issuer)
        : [deps.issuer, mcpResourceOf(deps.issuer)],
    sub: request.user,
    iat: now,
    exp,
    jti,
    ...(request.agent === undefined ? {} : { azp: request.agent }),
    ...(request.scopes === undefined ? {} : { scope: request.scopes.join(" ") }),
  });
  deps.audit.record({
    type: "dev_token.issued",
    subject: request.user,
    jti,
    exp,
    ...(request.agent === undefined ? {} : { agent: request.agent }),
  });
  await deps.audit.written();
  return token;
}
