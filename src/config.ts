/**
 * Settings shared by every command: where the policies, the store and the audit log are, and
 * the broker's issuer identifier. Validated once; errors name the setting.
 *
 * @module config
 */

import { z } from "zod";
import { isDuration, parseDuration } from "./policy/duration.js";

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 8787,
  policies: "policies",
  store: "sqlite://data/baton.db",
  audit: "data/audit.jsonl",
  /** Redis: how long one store operation may take before the request gets a 503. */
  storeTimeoutMs: 500,
  /** SIGTERM: how long requests in flight may take to finish before the process exits. */
  shutdownGrace: "10s",
} as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * The issuer identifier (RFC 8414 §2): an http(s) URL with no query or fragment. Baton serves
 * its endpoints at the root, so the issuer has no path; a trailing slash is dropped. Plain
 * http is accepted only for loopback hosts.
 */
export const IssuerSchema = z
  .url({ error: "must be an absolute URL" })
  .transform((s) => new URL(s))
  .refine((u) => u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname)), {
    error: "must use https (plain http only on a loopback host)",
  })
  .refine((u) => u.pathname === "/" && u.search === "" && u.hash === "" && u.username === "", {
    error: "must be an origin with no path, query, fragment or credentials",
  })
  .transform((u) => u.origin);

export const PortSchema = z.coerce
  .number({ error: "must be a number" })
  .int({ error: "must be an integer" })
  .min(0, { error: "must be between 0 and 65535" })
  .max(65535, { error: "must be between 0 and 65535" });

export const StoreTimeoutSchema = z.coerce
  .number({ error: "must be a number of milliseconds" })
  .int({ error: "must be a whole number of milliseconds" })
  .min(10, { error: "must be between 10 and 60000 milliseconds" })
  .max(60_000, { error: "must be between 10 and 60000 milliseconds" });

export const DurationSchema = z
  .string()
  .refine(isDuration, { error: "must be a duration such as 30s, 5m or 1h" })
  .transform(parseDuration);

/** Parses one setting, or throws a ConfigError naming it, e.g. `--issuer (BATON_ISSUER): …`. */
export function parseSetting<T>(
  schema: z.ZodType<T>,
  value: unknown,
  name: string,
  env?: string,
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const setting = env === undefined ? name : `${name} (${env})`;
  throw new ConfigError(`${setting}: ${result.error.issues[0]?.message ?? "is invalid"}`);
}

/** The default issuer for a listening address: http on loopback, as the broker is reached. */
export function defaultIssuer(host: string, port: number): string {
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${h === "0.0.0.0" ? "127.0.0.1" : h}:${port}`;
}
