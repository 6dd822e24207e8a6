/**
 * A grant: what one exchange will sign, decided in full by a planner (operations/exchange.ts)
 * before any signature or write.
 *
 * @module exchange/steps/grant
 */

import type { TokenKind } from "../../audit/events.js";
import type { Agent } from "../../policy/types.js";

/** What will be signed: decided in full before any signature or write. */
export interface Grant {
  // Who acts, for what target, with what, until when, in which task.
  readonly kind: TokenKind;
  readonly agent: Agent;
  /** Current actor first; empty for a permitted impersonation. */
  readonly chain: readonly string[];
  /** The API id (for an ID-JAG too) or the sub-agent id. */
  readonly audience: string;
  /**
   * The `aud` claim: the API's resource, or for an ID-JAG the issuer of the API's authorization
   * server; absent for a delegation token, which is addressed to the broker itself.
   */
  readonly aud?: string;
  /** An ID-JAG's `resource` claim (draft-ietf-oauth-identity-assertion-authz-grant §3): the API's. */
  readonly resource?: string;
  /**
   * An ID-JAG's `client_id` claim: the agent's client at the outside authorization server
   * (policy `client_ids`). Absent: the agent's own id, as in every token Baton addresses itself.
   */
  readonly clientId?: string;
  readonly scopes: readonly string[];
  readonly exp: number;
  /** The task id (`txn`), inside a task. */
  readonly txn?: string;
}
