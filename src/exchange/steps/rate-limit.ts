/**
 * Rate limits per agent and per subject (issue 6, item 3; design §3.6 `429 slow_down`), shared
 * by every node: the count lives in the store, whose `increment` is atomic across processes.
 *
 * A fixed window: the window that holds `now` starts at a multiple of its length since the
 * epoch, so every node agrees on it without talking; its counter expires with it. Every
 * attempt counts, refused or not: a limit that only counted successes would let an agent probe
 * (bad tokens, scopes it lacks) without end.
 *
 * @module exchange/steps/rate-limit
 */

import { createHash } from "node:crypto";
import { type BatonError, slowDown } from "../../errors.js";
import type { RateLimit } from "../../policy/types.js";
import type { ExchangeDeps } from "../types.js";

/**
 * A count forgotten to a power cut only forgets some attempts of one window: not worth an fsync
 * per exchange (issue 19). Counted as atomically across processes as any other.
 */
const VOLATILE = { durable: false } as const;

/**
 * Counts one attempt by `agentId` and refuses it past the agent's limit: its own `rate_limit`,
 * else the broker's `per_agent`. Call it first: the caller is authenticated, nothing else yet.
 */
export async function chargeAgentRate(
  deps: ExchangeDeps,
  agentId: string,
  now: number,
): Promise<void> {
  const { policy } = deps.active();
  const limit = policy.agents.get(agentId)?.rateLimit ?? policy.broker.rateLimit?.perAgent;
  // Agent ids are policy ids (a-z, 0-9, '.', '_', '-'): safe in a key as they are.
  await charge(deps, limit, `agent:${agentId}`, "rate_limit.agent", now);
}

/** Counts one attempt on behalf of `sub`, whatever agent acts, against the broker's `per_subject`. */
export async function chargeSubjectRate(
  deps: ExchangeDeps,
  sub: string,
  now: number,
): Promise<void> {
  const limit = deps.active().policy.broker.rateLimit?.perSubject;
  if (limit === undefined) return;
  // A `sub` may be long or hold any character (':' included): its hash keeps the key tidy.
  const id = createHash("sha256").update(sub).digest("hex");
  await charge(deps, limit, `subject:${id}`, "rate_limit.subject", now);
}

/** The failed authentications of one claimed client id in the current window. */
export interface AuthFailures {
  /**
   * Refuses the client id once it has failed `client_auth_failures` times in this window,
   * before its credentials are even checked: past the limit the right secret is refused too,
   * so an online guess at a secret (or a client assertion key) gains nothing. Read-only: a
   * throttled attempt is not counted again.
   */
  check(): Promise<void>;
  /** Counts one failure (any claimed id counts, unknown ones too). */
  count(): Promise<void>;
}

/** The counter of `clientId`'s failures; undefined when the policy sets no limit. */
export function clientAuthFailures(
  deps: ExchangeDeps,
  clientId: string,
  now: number,
): AuthFailures | undefined {
  const limit = deps.active().policy.broker.rateLimit?.clientAuthFailures;
  if (limit === undefined) return undefined;
  const window = limit.windowSeconds;
  const windowStart = now - (now % window);
  // The claimed id is the caller's text: its hash keeps the key short and tidy.
  const id = createHash("sha256").update(clientId).digest("hex");
  const key = `rate:auth-fail:${id}:${window}s:${windowStart}`;
  return {
    async check() {
      const failures = (await deps.store.get<number>(key)) ?? 0;
      if (failures >= limit.requests) {
        throw tooMany(windowStart + window - now, "rate_limit.client_auth");
      }
    },
    async count() {
      await deps.store.increment(key, window * 1000, VOLATILE);
    },
  };
}

async function charge(
  deps: ExchangeDeps,
  limit: RateLimit | undefined,
  who: string,
  rule: RateRule,
  now: number,
): Promise<void> {
  if (limit === undefined) return;
  const window = limit.windowSeconds;
  const windowStart = now - (now % window);
  // The window's length is in the key too: a reload that changes it starts a fresh count
  // instead of reading one kept for another window.
  const key = `rate:${who}:${window}s:${windowStart}`;
  const count = await deps.store.increment(key, window * 1000, VOLATILE);
  if (count > limit.requests) throw tooMany(windowStart + window - now, rule);
}

/**
 * One description for both limits: an agent need not learn that the user is busy elsewhere.
 * RFC 9110 §10.2.3: Retry-After in whole seconds, here until the window ends (at least 1).
 */
type RateRule = Exclude<Parameters<typeof slowDown>[1], "approval.cap">;

function tooMany(retryAfter: number, rule: RateRule): BatonError {
  return slowDown("Too many requests, slow down", rule, Math.max(1, retryAfter));
}
