/**
 * `baton serve`: the broker over HTTP (design §3.2), composed by `composeServing` with the
 * configured adapters: the keyv store, the audit file, pino, hono's node server.
 *
 * @module main/serve
 */

import type { Server as HttpServer } from "node:http";
import { readTaskEvents } from "../audit/read-audit-log.js";
import { serveBanner } from "../cli/banner.js";
import { systemClock } from "../clock.js";
import {
  ConfigError,
  DEFAULTS,
  DurationSchema,
  defaultIssuer,
  IssuerSchema,
  PortSchema,
  parseSetting,
} from "../config.js";
import { BatonError } from "../errors.js";
import { taskTreeEvents } from "../exchange/steps/task-tree-events.js";
import { createLogger, type Logger } from "../log.js";
import { createMetrics, type Metrics } from "../metrics/metrics.js";
import { composeServing, type OpenedAdapters, openAdapters, type Serving } from "./compose.js";
import { keepKeysCurrent, keepPolicyCurrent } from "./keep-current.js";
import { type Fetch, InFlight, listen, stopOnSignal, storeErrorLog } from "./server.js";
import {
  auditSyncSetting,
  type BrokerOptions,
  brokerOptions,
  type SharedFlags,
} from "./settings.js";

export interface ServeFlags extends SharedFlags {
  host: string;
  port: string;
  dev?: boolean;
  shutdownGrace: string;
  auditSync?: boolean;
}

export async function serveCommand(flags: ServeFlags) {
  const { port, auditSync, grace } = serveSettings(flags);
  const log = createLogger();
  // Listen first: with --port 0 the issuer (in every token) is known only once bound.
  let handle: Fetch | undefined;
  const { server, port: bound } = await listen(
    (request) =>
      handle?.(request) ?? new Response(null, { status: 503, headers: { "Retry-After": "1" } }),
    flags.host,
    port,
  );
  const inFlight = new InFlight(server as HttpServer);
  const metrics = createMetrics();
  let options: BrokerOptions;
  let opened: OpenedAdapters;
  let serving: Serving;
  try {
    options = {
      ...brokerOptions(flags, flags.host, bound),
      auditSync,
      onStoreError: storeErrorLog(log),
      onAuditError: (error) =>
        log.error(
          { err: error, audit: flags.audit },
          "the audit log cannot be written: every exchange is refused (503) until a restart",
        ),
    };
    opened = await openAdapters(options, systemClock, metrics);
    serving = await composedOrClosed(opened, options, metrics, log);
  } catch (err) {
    server.close();
    throw err;
  }
  handle = serving.fetch;
  const stopReloading = keepPolicyCurrent(serving, options.policies, log);
  const stopKeyRefresh = keepKeysCurrent(serving.deps.keys);
  const { issuer } = options;
  const sealed = options.keySecret !== undefined;
  const policy = serving.deps.active().policy;
  process.stdout.write(
    serveBanner({
      issuer,
      policy,
      policiesDir: options.policies,
      storeUrl: flags.store,
      auditPath: options.audit,
      auditIsDefault: options.audit === DEFAULTS.audit,
      keysSealed: sealed,
    }),
  );
  stopOnSignal({
    server,
    inFlight,
    grace,
    log,
    stopWork: () => {
      stopKeyRefresh();
      stopReloading();
    },
    closeSessions: () => serving.closeSessions(),
    closeAdapters: () => opened.close(),
  });
}

/** The flags serve checks before it binds anything. */
function serveSettings(flags: ServeFlags) {
  const port = parseSetting(PortSchema, flags.port, "--port", "BATON_PORT");
  const auditSync = auditSyncSetting(flags);
  const grace = parseSetting(
    DurationSchema,
    flags.shutdownGrace,
    "--shutdown-grace",
    "BATON_SHUTDOWN_GRACE",
  );
  if (flags.store === "memory://" && !flags.dev) {
    // Design §3.1: a broker that forgets its keys and revocations on restart is for tests only.
    throw new ConfigError(
      "--store (BATON_STORE): memory:// forgets keys and revocations; serve refuses it unless --dev",
    );
  }
  parseSetting(
    IssuerSchema,
    flags.issuer ?? defaultIssuer(flags.host, port),
    "--issuer",
    "BATON_ISSUER",
  );
  return { port, auditSync, grace };
}

/** The serving composition over the opened adapters; if it fails, they are closed again. */
async function composedOrClosed(
  opened: OpenedAdapters,
  options: BrokerOptions,
  metrics: Metrics,
  log: Logger,
): Promise<Serving> {
  try {
    return composeServing({
      ...opened,
      clock: systemClock,
      metrics,
      logFailure: failureLog(log),
      // The approval page's client secret at its OpenID Provider (broker.approval_login).
      ...(process.env.BATON_APPROVAL_LOGIN_SECRET
        ? { approvalLoginSecret: process.env.BATON_APPROVAL_LOGIN_SECRET }
        : {}),
      // The approval page draws a task's tree from the store (every node's events); a task from
      // before the store kept them is read from this node's audit file, when it is a file.
      readTaskEvents: async (taskId: string) => {
        const stored = await taskTreeEvents(opened.store, taskId);
        if (stored.length > 0 || options.audit === "stderr") return stored;
        return readTaskEvents(options.audit, taskId);
      },
    });
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/** Refusals are the audit log's; a store or audit outage has its own throttled log line. */
function failureLog(log: Logger) {
  return (err: unknown, endpoint: string) => {
    const expected = err instanceof BatonError && err.code === "temporarily_unavailable";
    if ((err instanceof BatonError && err.status < 500) || expected) return;
    log.error({ endpoint, err }, "request failed");
  };
}
