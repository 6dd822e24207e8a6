/**
 * What an agent may do for its subject right now: the APIs and scopes it may ask for (which
 * are elevated, the longest lifetime), whom it may delegate to, and the chain its next token
 * would carry. Behind the `list_apis` and `whoami` tools and `POST /whoami`.
 *
 * @module exchange/describe-session
 */

import type { Api, Policy } from "../policy/types.js";
import { acceptSubject } from "./accept-subject.js";
import type { Subject } from "./subject.js";
import type { Caller, ExchangeDeps } from "./types.js";

export interface ScopeView {
  readonly name: string;
  readonly description: string;
  /** True when a human must approve it (rule 6). */
  readonly elevated: boolean;
}

export interface ApiView {
  readonly id: string;
  readonly resource: string;
  readonly description: string;
  /** The longest lifetime a token for it can have now, in seconds. */
  readonly max_ttl_seconds: number;
  readonly scopes: readonly ScopeView[];
}

export interface SessionView {
  readonly agent: string;
  readonly subject: string;
  /** The `act` chain of the next token, current actor (this agent) first. */
  readonly chain: readonly string[];
  /** When the subject token expires (epoch seconds): nothing derived from it outlives it. */
  readonly subject_expires_at: number;
  readonly apis: readonly ApiView[];
  readonly may_delegate_to: readonly string[];
}

export async function describeSession(
  deps: ExchangeDeps,
  caller: Caller,
  subjectToken: string,
  subjectTokenType: string,
): Promise<SessionView> {
  const now = deps.clock.now();
  const { policy } = deps.active();
  const { agent, subject } = await acceptSubject(
    deps,
    caller,
    { subjectToken, subjectTokenType },
    now,
  );
  const usable = (scope: string) =>
    agent.scopes.has(scope) && (!subject.scopes || subject.scopes.has(scope));
  return {
    agent: agent.id,
    subject: subject.sub,
    chain: [agent.id, ...subject.chain],
    subject_expires_at: subject.exp,
    apis: [...policy.apis.values()]
      .map((api) => apiView(policy, api, usable, subject, now))
      .filter((view) => view.scopes.length > 0),
    may_delegate_to: [...agent.delegateTo].filter((id) => policy.agents.has(id)),
  };
}

function apiView(
  policy: Policy,
  api: Api,
  usable: (scope: string) => boolean,
  subject: Subject,
  now: number,
): ApiView {
  return {
    id: api.id,
    resource: api.resource,
    description: api.description,
    max_ttl_seconds: Math.max(
      0,
      Math.min(api.maxTtl ?? policy.broker.maxTtl, policy.broker.maxTtl, subject.exp - now),
    ),
    scopes: [...api.scopes.values()]
      .filter((scope) => usable(scope.name))
      .map((scope) => ({
        name: scope.name,
        description: scope.description,
        elevated: scope.approval !== undefined,
      })),
  };
}
