/**
 * The settings every command shares (design §3.1): the same flags and env vars mean the same
 * for every command, so a CLI command and a running broker can share one store.
 *
 * @module main/settings
 */

import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  ConfigError,
  DEFAULTS,
  defaultIssuer,
  IssuerSchema,
  PortSchema,
  parseSetting,
  StoreTimeoutSchema,
} from "../config.js";
import { createKeySealer, type KeySealer } from "../tokens/key-seal.js";

export interface BrokerOptions {
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

export interface SharedFlags {
  policies: string;
  store: string;
  storeTimeout: string;
  issuer?: string;
  audit: string;
  keySecretFile?: string;
}

/** Where a command's lines go: results to stdout, complaints to stderr. */
export const terminal = {
  log: (line: string) => void process.stdout.write(`${line}\n`),
  error: (line: string) => void process.stderr.write(`${line}\n`),
};

/** `--issuer` of the commands that do not listen: the served broker's, by default. */
const OFFLINE_ISSUER =
  "issuer identifier of the broker whose store this is (default: http://BATON_HOST:BATON_PORT, http://127.0.0.1:8787 when unset)";

/**
 * A `--store sqlite://PATH` given by the user must name a file in a directory that exists: a
 * mistyped path is refused, never created. Only the default's directory (`./data/`) is made.
 * Commander runs this on flags and env values, never on the default.
 */
export function storeArgument(value: string): string {
  if (!value.startsWith("sqlite://") || value === DEFAULTS.store) return value;
  const path = value.slice("sqlite://".length);
  if (path === "") return value; // the store names what is missing
  return inExistingDirectory(path, value);
}

/** `--audit PATH`, as `--store`: a file in a directory that exists; `stderr` is no file. */
export function auditArgument(value: string): string {
  if (value === "stderr" || value === "" || value === DEFAULTS.audit) return value;
  return inExistingDirectory(value, value);
}

function inExistingDirectory(path: string, value: string): string {
  const dir = dirname(resolve(path));
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) {
    throw new InvalidArgumentError(
      `the directory ${dir} does not exist; create it first (only the default's ./data/ is created)`,
    );
  }
  return value;
}

/** The flags every command that needs the broker's state shares; `issuerHelp` is serve's own. */
export const sharedOptions = (cmd: Command, issuerHelp = OFFLINE_ISSUER) =>
  cmd
    .addOption(
      new Option("--policies <dir>", "policy directory")
        .env("BATON_POLICIES")
        .default(DEFAULTS.policies),
    )
    .addOption(
      new Option("--store <url>", "sqlite://PATH, redis://HOST:PORT[/DB] or memory://")
        .env("BATON_STORE")
        .default(DEFAULTS.store)
        .argParser(storeArgument),
    )
    .addOption(
      new Option("--store-timeout <ms>", "redis: deadline of one store operation")
        .env("BATON_STORE_TIMEOUT_MS")
        .default(String(DEFAULTS.storeTimeoutMs)),
    )
    .addOption(new Option("--issuer <url>", issuerHelp).env("BATON_ISSUER"))
    .addOption(
      new Option("--audit <path>", 'audit log file, or "stderr"')
        .env("BATON_AUDIT")
        .default(DEFAULTS.audit)
        .argParser(auditArgument),
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
export const auditSyncOption = () =>
  new Option(
    "--audit-sync",
    "fsync the audit file before a token leaves (env: BATON_AUDIT_SYNC=1); not with --audit stderr",
  );

/** --audit-sync or BATON_AUDIT_SYNC (1/true, 0/false); refused with --audit stderr. */
export function auditSyncSetting(flags: SharedFlags & { auditSync?: boolean }): boolean {
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

/** The sealer of the signing keys, when a key secret is configured (tokens/key-seal.ts). */
export function keySealer(options: BrokerOptions): KeySealer | undefined {
  return options.keySecret === undefined ? undefined : createKeySealer(options.keySecret);
}

/** --store-timeout (BATON_STORE_TIMEOUT_MS), in milliseconds. */
export function storeTimeoutMs(flags: SharedFlags): number {
  return parseSetting(
    StoreTimeoutSchema,
    flags.storeTimeout,
    "--store-timeout",
    "BATON_STORE_TIMEOUT_MS",
  );
}

export function brokerOptions(flags: SharedFlags, host: string, port: number): BrokerOptions {
  const issuer = parseSetting(
    IssuerSchema,
    flags.issuer ?? defaultIssuer(host, port),
    "--issuer",
    "BATON_ISSUER",
  );
  const timeoutMs = storeTimeoutMs(flags);
  const secret = keySecret(flags);
  return {
    policies: flags.policies,
    store: flags.store,
    issuer,
    audit: flags.audit,
    storeTimeoutMs: timeoutMs,
    ...(secret === undefined ? {} : { keySecret: secret }),
  };
}

/** Flags of the commands that do not listen: the issuer still defaults to the served one. */
export function offlineOptions(flags: SharedFlags): BrokerOptions {
  const port = parseSetting(
    PortSchema,
    process.env.BATON_PORT ?? DEFAULTS.port,
    "--port",
    "BATON_PORT",
  );
  return brokerOptions(flags, process.env.BATON_HOST ?? DEFAULTS.host, port);
}
