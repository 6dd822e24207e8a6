/**
 * The composition root and the `baton` command line. The only file that picks concrete
 * adapters (design §5): the keyv store, the audit file, pino, hono's node server.
 *
 * @module main
 */

import { readFileSync } from "node:fs";
import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import { type ServerType, serve } from "@hono/node-server";
import { Command, Option } from "commander";
import { openAuditLog } from "./audit/audit-log.js";
import type { AuditSink } from "./audit/events.js";
import { readTaskEvents } from "./audit/read-audit-log.js";
import { decideFromCli, listApprovals, printLoginLink } from "./cli/approvals.js";
import { auditCommand } from "./cli/audit.js";
import { serveBanner } from "./cli/banner.js";
import { type KeysContext, listFromCli, rotateFromCli, withdrawFromCli } from "./cli/keys.js";
import { policyCheck } from "./cli/policy-check.js";
import { type ExplainFlags, policyExplain } from "./cli/policy-explain.js";
import { type Clock, systemClock } from "./clock.js";
import {
  ConfigError,
  DEFAULTS,
  DurationSchema,
  defaultIssuer,
  IssuerSchema,
  PortSchema,
  parseSetting,
  StoreTimeoutSchema,
} from "./config.js";
import { BatonError } from "./errors.js";
import { activatePolicy } from "./exchange/activate.js";
import { issueDevToken } from "./exchange/dev-token.js";
import { taskTreeEvents, withTaskLog } from "./exchange/task-tree-events.js";
import type { ExchangeDeps } from "./exchange/types.js";
import { createApp } from "./http/app.js";
import { PATHS } from "./http/metadata.js";
import { createLogger, type Logger } from "./log.js";
import { coreBackend } from "./mcp/core-backend.js";
import { createMcpHttpHandler } from "./mcp/http-handler.js";
import { remoteBackend } from "./mcp/remote-backend.js";
import { serveStdio } from "./mcp/stdio.js";
import { createMetrics, type Metrics } from "./metrics/metrics.js";
import { loadPolicy, PolicyError } from "./policy/load.js";
import type { Policy } from "./policy/types.js";
import { watchPolicyDir } from "./policy/watch.js";
import { openKeyvStore } from "./store/keyv-store.js";
import type { Store } from "./store/store.js";
import { KEY_REFRESH_SECONDS, openKeyRing } from "./tokens/key-ring.js";
import { createKeySealer, type KeySealer, SealedKeyError } from "./tokens/key-seal.js";

interface BrokerOptions {
  readonly policies: string;
  readonly store: string;
  readonly issuer: string;
  readonly audit: string;
  /** `--audit-sync`: a token leaves only once its audit line is fsynced (serve, mcp). */
  readonly auditSync?: boolean;
  /** Redis: the deadline of one store operation. */
  readonly storeTimeoutMs: number;
  /** Seals the signing keys at rest (BATON_KEY_SECRET / --key-secret-file); absent: plain. */
  readonly keySecret?: string;
  /** Told of every store error (logs, metrics). */
  readonly onStoreError?: (error: unknown) => void;
  /** Told, once, of the write error that stops the audit log (then every exchange gets 503). */
  readonly onAuditError?: (error: unknown) => void;
}

export interface Broker {
  readonly deps: ExchangeDeps;
  /**
   * Reads the policy directory again. A valid policy replaces the old one in one step (no
   * request sees half of it); an invalid one is refused and the last good policy stays.
   */
  reload(): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

export type ReloadOutcome =
  | { readonly ok: true; readonly version: string; readonly changed: boolean }
  | { readonly ok: false; readonly version: string; readonly issues: readonly string[] };

/** Opens the store, loads the policy and the keys: everything the core needs. */
export async function openBroker(
  options: BrokerOptions,
  clock: Clock = systemClock,
  metrics?: Metrics,
): Promise<Broker> {
  const policy = checkedPolicy(await loadPolicy(options.policies), options.issuer);
  const onStoreError = options.onStoreError;
  const store: Store = await openKeyvStore(options.store, {
    timeoutMs: options.storeTimeoutMs,
    onError: (error) => {
      metrics?.storeError();
      onStoreError?.(error);
    },
  });
  let sink: AuditSink | undefined;
  try {
    const keys = await openKeyRing(
      store,
      policy.broker.signingAlg,
      clock,
      policy.broker.maxTtl,
      keySealer(options),
    );
    sink = openAuditLog(options.audit, clock, options.onAuditError, {
      sync: options.auditSync === true,
    });
    let active = activatePolicy(policy);
    // Metrics count from the audit stream: both doors, one mechanism.
    // Task events are also copied into the store, so every node draws the same task tree.
    const audit = withTaskLog(
      withPolicyVersion(metrics ? metrics.auditSink(sink) : sink, () => active.policy.version),
      store,
      clock,
    );
    const deps: ExchangeDeps = {
      issuer: options.issuer,
      active: () => active,
      keys,
      store,
      audit,
      clock,
    };

    // Reloads run one at a time; each swaps the whole active policy at once (issue 9).
    let queue: Promise<unknown> = Promise.resolve();
    const reloadOnce = async (): Promise<ReloadOutcome> => {
      const previous = active.policy.version;
      try {
        const next = checkedPolicy(await loadPolicy(options.policies), options.issuer);
        if (next.version === previous) return { ok: true, version: previous, changed: false };
        active = activatePolicy(next);
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
    const opened = sink;
    return {
      deps,
      reload() {
        const next = queue.then(reloadOnce, reloadOnce);
        queue = next;
        return next;
      },
      async close() {
        await opened.close();
        await store.close();
      },
    };
  } catch (err) {
    await sink?.close();
    await store.close();
    throw err;
  }
}

/** The sealer of the signing keys, when a key secret is configured (tokens/key-seal.ts). */
function keySealer(options: BrokerOptions): KeySealer | undefined {
  return options.keySecret === undefined ? undefined : createKeySealer(options.keySecret);
}

/** Delegation tokens carry the issuer as `aud`: no API may be addressed by that name. */
function checkedPolicy(policy: Policy, issuer: string): Policy {
  for (const api of policy.apis.values()) {
    if (api.resource === issuer) {
      throw new ConfigError(`--issuer (BATON_ISSUER): equals the resource of API "${api.id}"`);
    }
  }
  return policy;
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
 * Keeps the policy current while a process runs: on every change in the directory (unless
 * BATON_WATCH=0) and on SIGHUP. Refusals are logged as `baton policy check` prints them.
 */
function keepPolicyCurrent(broker: Broker, dir: string, log: Logger): () => void {
  const reload = async (trigger: string) => {
    const outcome = await broker.reload();
    if (!outcome.ok) {
      log.error(
        { trigger, version: outcome.version, issues: outcome.issues },
        "policy refused; the last good policy stays in force",
      );
      for (const line of outcome.issues) log.error(`policy: ${line}`);
    } else if (outcome.changed) {
      log.info({ trigger, version: outcome.version }, "policy reloaded");
    }
  };
  const onHup = () => void reload("SIGHUP");
  process.on("SIGHUP", onHup);
  const stopWatching =
    process.env.BATON_WATCH === "0"
      ? () => undefined
      : watchPolicyDir(dir, () => void reload("change"));
  return () => {
    process.off("SIGHUP", onHup);
    stopWatching();
  };
}

const sharedOptions = (cmd: Command) =>
  cmd
    .addOption(
      new Option("--policies <dir>", "policy directory")
        .env("BATON_POLICIES")
        .default(DEFAULTS.policies),
    )
    .addOption(
      new Option("--store <url>", "sqlite://PATH, redis://HOST:PORT[/DB] or memory://")
        .env("BATON_STORE")
        .default(DEFAULTS.store),
    )
    .addOption(
      new Option("--store-timeout <ms>", "redis: deadline of one store operation")
        .env("BATON_STORE_TIMEOUT_MS")
        .default(String(DEFAULTS.storeTimeoutMs)),
    )
    .addOption(
      new Option("--issuer <url>", "issuer identifier (default: from host and port)").env(
        "BATON_ISSUER",
      ),
    )
    .addOption(
      new Option("--audit <path>", 'audit log file, or "stderr"')
        .env("BATON_AUDIT")
        .default(DEFAULTS.audit),
    )
    .addOption(
      new Option(
        "--key-secret-file <path>",
        "seal the signing keys at rest with the secret in this file (or BATON_KEY_SECRET)",
      ).env("BATON_KEY_SECRET_FILE"),
    );

/**
 * `--audit-sync` of `serve` and `mcp`. Its env var is read here, not by commander, which would
 * turn a boolean on for any value, `BATON_AUDIT_SYNC=0` included.
 */
const auditSyncOption = () =>
  new Option(
    "--audit-sync",
    "fsync the audit file before a token leaves (env: BATON_AUDIT_SYNC=1); not with --audit stderr",
  );

/** --audit-sync or BATON_AUDIT_SYNC (1/true, 0/false); refused with --audit stderr. */
function auditSyncSetting(flags: SharedFlags & { auditSync?: boolean }): boolean {
  const env = process.env.BATON_AUDIT_SYNC?.trim().toLowerCase() ?? "";
  if (!["", "0", "false", "1", "true"].includes(env)) {
    throw new ConfigError("--audit-sync (BATON_AUDIT_SYNC): must be 1 or 0");
  }
  const sync = flags.auditSync === true || env === "1" || env === "true";
  if (sync && flags.audit === "stderr") {
    throw new ConfigError(
      "--audit-sync (BATON_AUDIT_SYNC): stderr cannot be synced to a disk; give --audit a file",
    );
  }
  return sync;
}

interface SharedFlags {
  policies: string;
  store: string;
  storeTimeout: string;
  issuer?: string;
  audit: string;
  keySecretFile?: string;
}

/**
 * The key secret: from the file named by --key-secret-file (BATON_KEY_SECRET_FILE), else from
 * BATON_KEY_SECRET. Never a flag with the value itself: it would show in `ps`.
 */
function keySecret(flags: SharedFlags): string | undefined {
  const inEnv = process.env.BATON_KEY_SECRET;
  if (flags.keySecretFile === undefined) return inEnv === "" ? undefined : inEnv;
  if (inEnv !== undefined && inEnv !== "") {
    throw new ConfigError(
      "--key-secret-file (BATON_KEY_SECRET_FILE): give it or BATON_KEY_SECRET, not both",
    );
  }
  try {
    // One trailing newline is the file's, not the secret's (`openssl rand -base64 32 > file`).
    return readFileSync(flags.keySecretFile, "utf8").replace(/\r?\n$/, "");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`--key-secret-file (BATON_KEY_SECRET_FILE): cannot read it (${code})`);
  }
}

function brokerOptions(flags: SharedFlags, host: string, port: number): BrokerOptions {
  const issuer = parseSetting(
    IssuerSchema,
    flags.issuer ?? defaultIssuer(host, port),
    "--issuer",
    "BATON_ISSUER",
  );
  const storeTimeoutMs = parseSetting(
    StoreTimeoutSchema,
    flags.storeTimeout,
    "--store-timeout",
    "BATON_STORE_TIMEOUT_MS",
  );
  const secret = keySecret(flags);
  return {
    policies: flags.policies,
    store: flags.store,
    issuer,
    audit: flags.audit,
    storeTimeoutMs,
    ...(secret === undefined ? {} : { keySecret: secret }),
  };
}

/** Flags of the commands that do not listen: the issuer still defaults to the served one. */
function offlineOptions(flags: SharedFlags): BrokerOptions {
  const port = parseSetting(
    PortSchema,
    process.env.BATON_PORT ?? DEFAULTS.port,
    "--port",
    "BATON_PORT",
  );
  return brokerOptions(flags, process.env.BATON_HOST ?? DEFAULTS.host, port);
}

async function serveCommand(
  flags: SharedFlags & {
    host: string;
    port: string;
    dev?: boolean;
    shutdownGrace: string;
    auditSync?: boolean;
  },
) {
  const port = parseSetting(PortSchema, flags.port, "--port", "BATON_PORT");
  const auditSync = auditSyncSetting(flags);
  const grace = parseSetting(
    DurationSchema,
    flags.shutdownGrace,
    "--shutdown-grace",
    "BATON_SHUTDOWN_GRACE",
  );
  const store = flags.store;
  if (store === "memory://" && !flags.dev) {
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
  const log = createLogger();
  // Listen first: with --port 0 the issuer (in every token) is known only once bound.
  let handle: ((request: Request) => Response | Promise<Response>) | undefined;
  const { server, port: bound } = await listen(
    (request) =>
      handle?.(request) ?? new Response(null, { status: 503, headers: { "Retry-After": "1" } }),
    flags.host,
    port,
  );
  const inFlight = new InFlight(server as HttpServer);
  const metrics = createMetrics();
  let broker: Broker;
  let options: BrokerOptions;
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
    broker = await openBroker(options, systemClock, metrics);
  } catch (err) {
    server.close();
    throw err;
  }
  const { issuer } = options;
  const guard = dnsRebindingGuard(issuer);
  const mcp = createMcpHttpHandler({
    deps: broker.deps,
    ...guard,
    resourceMetadataUrl: `${issuer}${PATHS.resourceMetadata}`,
  });
  handle = createApp({
    deps: broker.deps,
    assertionAudiences: [
      issuer,
      `${issuer}${PATHS.token}`,
      `${issuer}${PATHS.introspect}`,
      `${issuer}${PATHS.revoke}`,
      `${issuer}${PATHS.whoami}`,
    ],
    logFailure: (err, endpoint) => {
      // Refusals are the audit log's; a store or audit outage has its own throttled log line.
      const expected = err instanceof BatonError && err.code === "temporarily_unavailable";
      if ((err instanceof BatonError && err.status < 500) || expected) return;
      log.error({ endpoint, err }, "request failed");
    },
    mcp: mcp.handle,
    allowedOrigins: guard.allowedOrigins,
    metrics,
    // The approval page's client secret at its OpenID Provider (broker.approval_login).
    ...(process.env.BATON_APPROVAL_LOGIN_SECRET
      ? { approvalLoginSecret: process.env.BATON_APPROVAL_LOGIN_SECRET }
      : {}),
    // The approval page draws a task's tree from the store (every node's events); a task from
    // before the store kept them is read from this node's audit file, when it is a file.
    readTaskEvents: async (taskId: string) => {
      const stored = await taskTreeEvents(broker.deps.store, taskId);
      if (stored.length > 0 || options.audit === "stderr") return stored;
      return readTaskEvents(options.audit, taskId);
    },
  }).fetch;
  const stopReloading = keepPolicyCurrent(broker, options.policies, log);
  const stopKeyRefresh = keepKeysCurrent(broker);
  process.stdout.write(
    serveBanner(
      issuer,
      broker.deps.active().policy,
      options.policies,
      store,
      options.keySecret !== undefined,
    ),
  );

  // Graceful stop: refuse new connections, let requests in flight finish (up to the grace
  // period), then end MCP sessions and close the store. No response is cut off.
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: inFlight.count }, "stopping: finishing requests in flight");
    stopKeyRefresh();
    stopReloading();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const finished = await inFlight.drained(grace * 1000);
    if (!finished) log.warn({ inFlight: inFlight.count }, "grace period over; closing anyway");
    await mcp.close();
    (server as HttpServer).closeAllConnections();
    await closed;
    await broker.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** How often a serving node re-reads the key ring (rotations by other nodes or the CLI). */
const KEY_REFRESH_MS = KEY_REFRESH_SECONDS * 1000;

/**
 * A key rotated by `baton keys rotate` (or another node) is published, and signs, in every
 * long-running process on the store within KEY_REFRESH_MS; until then the process still
 * verifies it (unknown kids re-read the store) and signs with the previous key, which stays
 * valid. Returns the function that stops it.
 */
function keepKeysCurrent(broker: Broker): () => void {
  const refresh = setInterval(() => broker.deps.keys.reload().catch(() => {}), KEY_REFRESH_MS);
  refresh.unref();
  return () => clearInterval(refresh);
}

/**
 * Counts requests being answered, so a stop can wait for them. Counted at the HTTP server, from
 * the request until its response is written in full (or its connection is gone): an MCP POST
 * answers with an event stream that carries the tool's result after the handler returned. A
 * session's long-lived GET event stream is not a request in flight: it ends with the session.
 */
class InFlight {
  count = 0;
  #idle: (() => void)[] = [];

  constructor(server: HttpServer) {
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      const listening =
        request.method === "GET" && request.headers.accept?.includes("text/event-stream");
      if (listening) return;
      this.count++;
      response.once("close", () => {
        this.count--;
        if (this.count === 0) for (const wake of this.#idle.splice(0)) wake();
      });
    });
  }

  /** True once nothing is in flight; false if `ms` passed first. */
  drained(ms: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/**
 * Store errors, logged without flooding: a Redis outage fails every request, so the first error
 * is logged and then at most one line per interval, with how many were not logged.
 */
function storeErrorLog(log: Logger, intervalMs = 10_000): (error: unknown) => void {
  let last = 0;
  let unlogged = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      unlogged++;
      return;
    }
    log.error({ err: error, since_last: unlogged }, "store error: requests fail closed (503)");
    last = now;
    unlogged = 0;
  };
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

interface McpFlags extends SharedFlags {
  agent: string;
  devUser?: string;
  broker?: string;
  auditSync?: boolean;
}

/**
 * `baton mcp --agent ID`: an MCP server on stdio for one agent. Embedded by default (this
 * process holds the keys, policy and store); with --broker, a client of a running broker.
 */
async function mcpCommand(flags: McpFlags) {
  const subjectToken = process.env.BATON_SUBJECT_TOKEN;
  if (flags.broker !== undefined) {
    const broker = parseSetting(IssuerSchema, flags.broker, "--broker", "BATON_BROKER");
    const clientSecret = process.env.BATON_CLIENT_SECRET;
    if (!clientSecret)
      throw new ConfigError(
        "BATON_CLIENT_SECRET: required with --broker (the agent's client secret)",
      );
    if (!subjectToken)
      throw new ConfigError("BATON_SUBJECT_TOKEN: required with --broker (the user's token)");
    await serveStdio(remoteBackend({ broker, agentId: flags.agent, clientSecret, subjectToken }));
    return;
  }
  if (!subjectToken && flags.devUser === undefined) {
    throw new ConfigError(
      "BATON_SUBJECT_TOKEN or --dev-user: the MCP server needs the user it acts for",
    );
  }
  const broker = await openBroker({ ...offlineOptions(flags), auditSync: auditSyncSetting(flags) });
  try {
    if (!broker.deps.active().policy.agents.has(flags.agent)) {
      throw new ConfigError(
        `--agent (BATON_AGENT): "${flags.agent}" is not an agent of the policy`,
      );
    }
    const session = subjectToken
      ? async () => subjectToken
      : devSession(broker.deps, flags.devUser as string, flags.agent);
    const stopReloading = keepPolicyCurrent(broker, flags.policies, createLogger());
    const stopKeyRefresh = keepKeysCurrent(broker);
    try {
      await serveStdio(coreBackend(broker.deps, { agentId: flags.agent }, session));
    } finally {
      stopKeyRefresh();
      stopReloading();
    }
  } finally {
    await broker.close();
  }
}

/** A development subject token for the user, bound to the agent, renewed before it expires. */
function devSession(deps: ExchangeDeps, user: string, agent: string): () => Promise<string> {
  let token: string | undefined;
  let renewAt = 0;
  return async () => {
    if (token === undefined || deps.clock.now() >= renewAt) {
      const ttl = deps.active().policy.broker.maxTtl;
      token = await issueDevToken(deps, { user, agent, ttl });
      renewAt = deps.clock.now() + Math.floor(ttl / 2);
    }
    return token;
  };
}

/** Binds the HTTP server; resolves with the port actually bound (for --port 0). */
function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
) {
  return new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, (info) => resolve({ server, port: info.port }));
    server.once("error", reject);
  });
}

async function devTokenCommand(
  flags: SharedFlags & {
    user: string;
    agent?: string;
    scope?: string;
    ttl: string;
    for: "broker" | "approvals";
  },
) {
  const broker = await openBroker(offlineOptions(flags));
  try {
    const ttl = parseSetting(DurationSchema, flags.ttl, "--ttl", "BATON_DEV_TOKEN_TTL");
    const token = await issueDevToken(broker.deps, {
      user: flags.user,
      ttl,
      for: flags.for,
      ...(flags.agent === undefined ? {} : { agent: flags.agent }),
      ...(flags.scope === undefined ? {} : { scopes: flags.scope.split(" ").filter(Boolean) }),
    });
    // The token is this command's output: stdout only, so `$(baton dev-token …)` works.
    process.stdout.write(`${token}\n`);
  } finally {
    await broker.close();
  }
}

/**
 * `baton keys rotate` and `keys withdraw`: one command on the store, with the policy's key
 * settings, the key secret and the audit log. It opens no key ring of its own, so it needs no
 * secret unless it makes a key.
 */
async function withKeys(flags: SharedFlags, run: (ctx: KeysContext) => Promise<void>) {
  const options = offlineOptions(flags);
  const policy = await loadPolicy(options.policies);
  const sealer = keySealer(options);
  const store = await openKeyvStore(options.store, { timeoutMs: options.storeTimeoutMs });
  const audit = openAuditLog(options.audit, systemClock);
  try {
    await run({
      store,
      clock: systemClock,
      alg: policy.broker.signingAlg,
      maxTtl: policy.broker.maxTtl,
      ...(sealer ? { sealer } : {}),
      audit,
      out: { log: (line) => process.stdout.write(`${line}\n`) },
    });
  } finally {
    await audit.close();
    await store.close();
  }
}

/** `baton keys list`: reads the ring only (public facts), so it needs no policy and no secret. */
async function keysListCommand(flags: SharedFlags) {
  const store = await openKeyvStore(flags.store, {
    timeoutMs: parseSetting(
      StoreTimeoutSchema,
      flags.storeTimeout,
      "--store-timeout",
      "BATON_STORE_TIMEOUT_MS",
    ),
  });
  try {
    await listFromCli(store, systemClock, { log: (line) => process.stdout.write(`${line}\n`) });
  } finally {
    await store.close();
  }
}

export function buildProgram(): Command {
  const program = new Command("baton")
    .description("Delegation broker for AI agents (RFC 8693)")
    .showHelpAfterError();

  sharedOptions(
    program
      .command("serve")
      .description("run the broker: OAuth endpoints")
      .addOption(
        new Option("--host <host>", "listen address").env("BATON_HOST").default(DEFAULTS.host),
      )
      .addOption(
        new Option("--port <port>", "listen port").env("BATON_PORT").default(String(DEFAULTS.port)),
      )
      .addOption(
        new Option("--shutdown-grace <duration>", "on SIGTERM, time for requests in flight")
          .env("BATON_SHUTDOWN_GRACE")
          .default(DEFAULTS.shutdownGrace),
      )
      .option("--dev", "allow memory:// (forgets everything on exit)")
      .addOption(auditSyncOption()),
  ).action(serveCommand);

  const policy = program.command("policy").description("policy files");
  policy
    .command("check")
    .description("validate the policy files of a directory")
    .argument("[dir]", "policy directory", process.env.BATON_POLICIES ?? DEFAULTS.policies)
    .action(async (dir: string) => {
      process.exitCode = await policyCheck(dir, {
        log: (line) => process.stdout.write(`${line}\n`),
        error: (line) => process.stderr.write(`${line}\n`),
      });
    });
  policy
    .command("explain")
    .description("say whether a grant would be issued, and which rules decide")
    .argument("[dir]", "policy directory (or --policies)")
    .addOption(
      new Option("--policies <dir>", "policy directory")
        .env("BATON_POLICIES")
        .default(DEFAULTS.policies),
    )
    .requiredOption("--agent <id>", "the agent that asks for the token")
    .requiredOption("--api <id>", "the API (id or resource URI)")
    .requiredOption("--scope <scopes>", "space- or comma-separated scopes")
    .option("--via <agents>", "delegators, comma-separated, first got the user's token")
    .option("--task <template>", "inside a task opened from this template")
    .option("--json", "machine-readable output")
    .action(async (dir: string | undefined, flags: ExplainFlags & { policies: string }) => {
      process.exitCode = await policyExplain(dir ?? flags.policies, flags, {
        log: (line) => process.stdout.write(`${line}\n`),
        error: (line) => process.stderr.write(`${line}\n`),
      });
    });

  sharedOptions(
    program
      .command("dev-token")
      .description("print a subject token from the development issuer (needs broker.dev_issuer)")
      .requiredOption("--user <name>", "the subject (sub)")
      .option("--agent <id>", "the only agent that may exchange it (azp)")
      .option("--scope <scopes>", "space-separated scopes that bound what it yields")
      .option("--ttl <duration>", "lifetime, e.g. 1h", "1h")
      .addOption(
        new Option("--for <use>", "broker: a subject token for agents; approvals: to sign in")
          .choices(["broker", "approvals"])
          .default("broker"),
      ),
  ).action(devTokenCommand);

  sharedOptions(
    program
      .command("mcp")
      .description("an MCP server on stdio for one agent")
      .addOption(
        new Option("--agent <id>", "the agent this server acts as")
          .env("BATON_AGENT")
          .makeOptionMandatory(),
      )
      .addOption(
        new Option("--dev-user <name>", "act for this user, with a development token").env(
          "BATON_DEV_USER",
        ),
      )
      .addOption(
        new Option(
          "--broker <url>",
          "use a running broker (credentials from BATON_CLIENT_SECRET)",
        ).env("BATON_BROKER"),
      )
      .addOption(auditSyncOption()),
  ).action(mcpCommand);

  const approvals = program.command("approvals").description("the operator's approval desk");
  const desk =
    (run: (deps: ExchangeDeps, out: { log(line: string): void }) => Promise<void>) =>
    async (flags: SharedFlags) => {
      const broker = await openBroker(offlineOptions(flags));
      try {
        await run(broker.deps, { log: (line) => process.stdout.write(`${line}\n`) });
      } finally {
        await broker.close();
      }
    };
  sharedOptions(
    approvals
      .command("list")
      .description("pending approval requests")
      .option("--all", "decided and expired ones too"),
  ).action((flags: SharedFlags & { all?: boolean }) =>
    desk((deps, out) => listApprovals(deps, out, flags.all === true))(flags),
  );
  for (const [name, decision] of [
    ["approve", "approved"],
    ["deny", "denied"],
  ] as const) {
    sharedOptions(
      approvals
        .command(name)
        .description(`${name} a pending request, as the operator`)
        .argument("<id>"),
    ).action((id: string, flags: SharedFlags) =>
      desk((deps, out) => decideFromCli(deps, out, id, decision))(flags),
    );
  }
  sharedOptions(
    approvals
      .command("login")
      .description("print a one-time sign-in link for the approval page")
      .requiredOption("--as <name>", "the approver's id (their sub)"),
  ).action((flags: SharedFlags & { as: string }) =>
    desk((deps, out) => printLoginLink(deps, out, flags.as))(flags),
  );

  const keys = program.command("keys").description("signing keys");
  sharedOptions(
    keys.command("rotate").description("make a new signing key; the old stays published"),
  ).action((flags: SharedFlags) => withKeys(flags, rotateFromCli));
  sharedOptions(
    keys.command("list").description("each kid, its state, and until when it is published"),
  ).action(keysListCommand);
  sharedOptions(
    keys
      .command("withdraw")
      .description("take a key out of the JWKS at once: every token it signed stops working")
      .argument("<kid>", "the key id (baton keys list shows them)"),
  ).action((kid: string, flags: SharedFlags) =>
    withKeys(flags, (ctx) => withdrawFromCli(ctx, kid)),
  );

  // Issue 8: reads the audit file only (no store, no keys), so it works beside a running broker.
  sharedOptions(
    program
      .command("audit")
      .description("print the audit log; with --task, the delegation tree of that task")
      .option("--task <id>", "the task whose delegation tree to draw")
      .option("--json", "raw JSON lines (with --task: the tree as JSON)")
      .option("--since <when>", "only events since a duration ago (10m) or an ISO 8601 time")
      .option("--limit <n>", "only the last N events"),
  ).action(
    async (
      flags: SharedFlags & { task?: string; json?: boolean; since?: string; limit?: string },
    ) => {
      process.exitCode = await auditCommand({ ...flags, path: flags.audit }, systemClock.now(), {
        log: (line) => process.stdout.write(`${line}\n`),
        error: (line) => process.stderr.write(`${line}\n`),
      });
    },
  );
  return program;
}

/** Entry point of `bin/baton.js`. Known failures print their message, never a stack. */
export async function run(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    process.exitCode = 1;
    if (err instanceof PolicyError) {
      for (const line of err.issues) process.stderr.write(`${line}\n`);
      return;
    }
    if (err instanceof SealedKeyError) {
      const fix = err.problem === "missing" ? "; set it to the secret they were sealed with" : "";
      process.stderr.write(`baton: BATON_KEY_SECRET (--key-secret-file): ${err.message}${fix}\n`);
      return;
    }
    // A store that cannot be opened says why (the CLI is the operator's own console).
    const cause =
      err instanceof BatonError && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    process.stderr.write(`baton: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
  }
}
