/**
 * Operational logs (pino), always to stderr: on `baton mcp`, stdout is the MCP channel.
 * Redaction is a second line of defence: no code path should hand a secret to the logger.
 *
 * @module log
 */

import { pino } from "pino";

export type Logger = pino.Logger;

const REDACT = [
  "*.token",
  "*.access_token",
  "*.subject_token",
  "*.actor_token",
  "*.client_secret",
  "*.client_assertion",
  "*.authorization",
  "*.headers.authorization",
  "*.privateJwk",
  "*.d",
];

export function createLogger(level = process.env.BATON_LOG_LEVEL ?? "info"): Logger {
  return pino(
    { name: "baton", level, redact: { paths: REDACT, censor: "[redacted]" } },
    pino.destination({ dest: 2, sync: false }),
  );
}
