/**
 * The composition (design §5): the one place where the core is put together from adapters.
 * `composeServing` builds what serves (the core's deps with their audit wrappers, the HTTP app
 * with `/mcp`, the policy swap and reload); `baton serve` and the tests' `startTestBroker` both
 * call it, each with its own adapters (store, keys, clock, audit sink, metrics), so the tests
 * exercise what ships. The commands that do not listen call `openBroker`: the configured
 * adapters, opened, and the same core.
 *
 * @module main/compose
 */

import { openAuditLog } from "../audit/audit-log.js";
import type { AuditSink } from "../audit/events.js";
import type { LoggedEvent } from "../audit/task-tree.js";
import { type Clock, systemClock } from "../clock.js";
import { ConfigError } from "../config.js";
import { createBroker } from "../exchange/broker.js";
import { preparePolicy } from "../exchange/steps/prepare-policy.js";
import type { ExchangeDeps } from "../exchange/types.js";
import { createApp } from "../http/app.js";
import { createMcpHttpHandler } from "../mcp/http-handler.js";
import type { Metrics } from "../metrics/metrics.js";
import { loadPolicy, PolicyError } from "../policy/load.js";
import type { Policy } from "../policy/types.js";
import { openKeyvStore } from "../store/keyv-store.js";
import type { Store } from "../store/store.js";
import { type KeyRing, openKeyRing } from "../tokens/key-ring.js";
import { mcpResourceOf, PATHS } from "../urls.js";
import { type BrokerOptions, keySealer } from "./settings.js";

/** What the core is composed from. The caller opened them, and closes them. */
export interface CoreAdapters {
  readonly issuer: string;
  /** The policy in force at the start. */
  readonly policy: Policy;
  /** Reads the policy source again, for `reload`. */
  readonly loadPolicy: () => Promise<Policy>;
  readonly store: Store;
  readonly keys: KeyRing;
  /** Where the events end up: the audit file, or a test's memory. */
  readonly audit: AuditSink;
  readonly clock: Clock;
  /** Counts from the audit stream, when the process serves `/metrics`. */
  readonly metrics?: Metrics;
}

export type ReloadOutcome =
  | { readonly ok: true; readonly version: string; readonly changed: boolean }
  | { readonly ok: false; readonly version: string; readonly issues: readonly string[] };

export interface Core {
  readonly deps: ExchangeDeps;
  /** Puts a policy in force in one step: no request sees half of it (issue 9). */
  swap(policy: Policy): void;
  /**
   * Reads the policy source again. A valid policy replaces the old one in one step (no
   * request sees half of it); an invalid one is refused and the last good policy stays.
   */
  reload(): Promise<ReloadOutcome>;
}

/** The core: the exchange deps over the adapters, and the policy in force. */
export function composeCore(adapters: CoreAdapters): Core {
  const { issuer, store, keys, clock, metrics } = adapters;
  let active = preparePolicy(checkedPolicy(adapters.policy, issuer));
  // Metrics count from the audit stream: both doors, one mechanism.
  const audit = withPolicyVersion(
    metrics ? metrics.auditSink(adapters.audit) : adapters.audit,
    () => active.policy.version,
  );
  const deps: ExchangeDeps = { issuer, active: () => active, keys, store, audit, clock };

  const reloadOnce = async (): Promise<ReloadOutcome> => {
    const previous = active.policy.version;
    try {
      const next = checkedPolicy(await adapters.loadPolicy(), issuer);
      if (next.version === previous) return { ok: true, version: previous, changed: false };
      active = preparePolicy(next);
      audit.record({ type: "policy.reloaded", version: next.version, previous });
      return { ok: true, version: next.version, changed: true };
    } catch (err) {
      const issues =
        err instanceof PolicyError
          ? err.issues
          : [err instanceof Error ? err.message : String(err)];
      audit.record({ type: "policy.rejected", version: previous, issues });
      return { ok: false, version: previous, issues };
    }
  };
  // Reloads run one at a time; each swaps the whole active policy at once (issue 9).
  let queue: Promise<unknown> = Promise.resolve();
  return {
    deps,
    swap(policy) {
      active = preparePolicy(policy);
    },
    reload() {
      const next = queue.then(reloadOnce, reloadOnce);
      queue = next;
      return next;
    },
  };
}

/** What serving adds to the core's adapters: the HTTP edge's own. */
export interface ServingAdapters extends CoreAdapters {
  readonly metrics: Metrics;
  /** The operator's log of a failed request (the response itself stays generic). */
  readonly logFailure: (err: unknown, endpoint: string) => void;
  /** One task's events, for the approval page's tree (issue 8); absent, the page says so. */
  readonly readTaskEvents?: (taskId: string) => Promise<readonly LoggedEvent[]>;
  /** BATON_APPROVAL_LOGIN_SECRET: the approval page's client secret at its OpenID Provider. */
  readonly approvalLoginSecret?: string;
}

export interface Serving extends Core {
  /** The whole HTTP surface: OAuth endpoints, `/mcp`, the approval page, health, metrics. */
  readonly fetch: (request: Request) => Response | Promise<Response>;
  /** Ends the MCP sessions. The adapters stay open: they are the caller's to close. */
  closeSessions(): Promise<void>;
}

/** What serves: the core, and the HTTP app in front of it with the MCP endpoint inside. */
export function composeServing(adapters: ServingAdapters): Serving {
  const core = composeCore(adapters);
  const { issuer } = adapters;
  const guard = dnsRebindingGuard(issuer);
  const mcp = createMcpHttpHandler({
    deps: core.deps,
    ...guard,
    resourceMetadataUrl: `${issuer}${PATHS.resourceMetadata}`,
  });
  const app = createApp({
    broker: createBroker(core.deps),
    store: core.deps.store,
    clock: core.deps.clock,
    assertionAudiences: assertionAudiences(issuer),
    logFailure: adapters.logFailure,
    mcp: mcp.handle,
    allowedOrigins: guard.allowedOrigins,
    metrics: adapters.metrics,
    ...(adapters.approvalLoginSecret === undefined
      ? {}
      : { approvalLoginSecret: adapters.approvalLoginSecret }),
    ...(adapters.readTaskEvents === undefined ? {} : { readTaskEvents: adapters.readTaskEvents }),
  });
  return { ...core, fetch: app.fetch, closeSessions: () => mcp.close() };
}

/** RFC 7523 §3: a client assertion may name the issuer or the endpoint it is sent to. */
function assertionAudiences(issuer: string): string[] {
  return [
    issuer,
    `${issuer}${PATHS.token}`,
    `${issuer}${PATHS.introspect}`,
    `${issuer}${PATHS.revoke}`,
    `${issuer}${PATHS.whoami}`,
  ];
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The Host names and Origins `/mcp` answers: the issuer's, and on a loopback issuer every
 * loopback name for it (a local client may say localhost for 127.0.0.1).
 */
function dnsRebindingGuard(issuer: string) {
  const url = new URL(issuer);
  const loopback = LOOPBACK_NAMES.includes(url.hostname);
  const hosts = new Set(loopback ? LOOPBACK_NAMES : [url.hostname]);
  const port = url.port === "" ? "" : `:${url.port}`;
  const origins = new Set([
    url.origin,
    ...(loopback ? LOOPBACK_NAMES.map((h) => `${url.protocol}//${h}${port}`) : []),
  ]);
  return { allowedHosts: hosts, allowedOrigins: origins };
}

/** Every audit event records the policy version it was decided under (issue 9). */
function withPolicyVersion(sink: AuditSink, version: () => string): AuditSink {
  return {
    record: (event) => sink.record({ policy: version(), ...event } as typeof event),
    written: () => sink.written(),
    close: () => sink.close(),
    failure: () => sink.failure?.(),
  };
}

/**
 * Names the broker keeps for itself, which no API may take: delegation tokens carry the issuer as
 * `aud`, so no API's `resource` may be it; Baton's own token for `/mcp` has `<issuer>/mcp` as
 * `aud`, so no API's tokens may pass as one; and an ID-JAG for Baton's own issuer would be an
 * identity provider trading its own assertion for an access token, which the ID-JAG draft forbids
 * (an outside `authorization_server` is another server, never this one).
 */
function checkedPolicy(policy: Policy, issuer: string): Policy {
  for (const api of policy.apis.values()) {
    if (sameUrl(api.resource, issuer)) {
      throw new ConfigError(`--issuer (BATON_ISSUER): equals the resource of API "${api.id}"`);
    }
    if (sameUrl(api.resource, mcpResourceOf(issuer))) {
      throw new ConfigError(
        `--issuer (BATON_ISSUER): the resource of API "${api.id}" is this broker's own /mcp`,
      );
    }
    if (api.authorizationServer !== undefined && sameUrl(api.authorizationServer, issuer)) {
      throw new ConfigError(
        `--issuer (BATON_ISSUER): the authorization_server of API "${api.id}" is this broker itself`,
      );
    }
  }
  return policy;
}

/** Two URLs that name one place: compared as parsed (`http://h:1` and `http://h:1/` agree). */
function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

/** The configured adapters, opened: the policy read and checked, the store, keys and audit log. */
export interface OpenedAdapters extends Omit<CoreAdapters, "clock" | "metrics"> {
  close(): Promise<void>;
}

/** Opens what the options name. Whatever fails, what was opened is closed again. */
export async function openAdapters(
  options: BrokerOptions,
  clock: Clock,
  metrics?: Metrics,
): Promise<OpenedAdapters> {
  const load = async () => checkedPolicy(await loadPolicy(options.policies), options.issuer);
  const policy = await load();
  const onStoreError = options.onStoreError;
  const store = await openKeyvStore(options.store, {
    timeoutMs: options.storeTimeoutMs,
    onError: (error) => {
      metrics?.storeError();
      onStoreError?.(error);
    },
  });
  let audit: AuditSink | undefined;
  try {
    const { signingAlg, maxTtl } = policy.broker;
    const keys = await openKeyRing(store, signingAlg, clock, maxTtl, keySealer(options));
    audit = openAuditLog(options.audit, clock, options.onAuditError, {
      sync: options.auditSync === true,
    });
    const sink = audit;
    const close = async () => {
      await sink.close();
      await store.close();
    };
    return { issuer: options.issuer, policy, loadPolicy: load, store, keys, audit, close };
  } catch (err) {
    await audit?.close();
    await store.close();
    throw err;
  }
}

/** A broker for a command that does not listen: its adapters opened, its core composed. */
export interface OpenedBroker {
  readonly deps: ExchangeDeps;
  reload(): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

/** Opens the store, loads the policy and the keys: everything the core needs. */
export async function openBroker(
  options: BrokerOptions,
  clock: Clock = systemClock,
): Promise<OpenedBroker> {
  const opened = await openAdapters(options, clock);
  try {
    const core = composeCore({ ...opened, clock });
    return { deps: core.deps, reload: () => core.reload(), close: opened.close };
  } catch (err) {
    await opened.close();
    throw err;
  }
}
