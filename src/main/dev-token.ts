/**
 * `baton dev-token`: a subject token from the development issuer (design §3.1).
 *
 * @module main/dev-token
 */

import { DurationSchema, parseSetting } from "../config.js";
import { issueDevToken } from "../exchange/operations/issue-dev-token.js";
import { openBroker } from "./compose.js";
import { offlineOptions, type SharedFlags } from "./settings.js";

export interface DevTokenFlags extends SharedFlags {
  user: string;
  agent?: string;
  scope?: string;
  ttl: string;
  for: "broker" | "approvals";
}

export async function devTokenCommand(flags: DevTokenFlags) {
  const broker = await openBroker(offlineOptions(flags));
  try {
    const ttl = parseSetting(DurationSchema, flags.ttl, "--ttl");
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
