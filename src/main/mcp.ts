/**
 * `baton mcp --agent ID`: an MCP server on stdio for one agent (design §3.1).
 *
 * @module main/mcp
 */

import { ConfigError, IssuerSchema, parseSetting } from "../config.js";
import { issueDevToken } from "../exchange/operations/issue-dev-token.js";
import type { ExchangeDeps } from "../exchange/types.js";
import { createLogger } from "../log.js";
import { embeddedSession } from "../mcp/embedded-session.js";
import { remoteSession } from "../mcp/remote-session.js";
import { serveStdio } from "../mcp/stdio.js";
import { openBroker } from "./compose.js";
import { keepKeysCurrent, keepPolicyCurrent } from "./keep-current.js";
import { auditSyncSetting, offlineOptions, type SharedFlags } from "./settings.js";

export interface McpFlags extends SharedFlags {
  agent: string;
  devUser?: string;
  broker?: string;
  auditSync?: boolean;
}

/**
 * `baton mcp --agent ID`: an MCP server on stdio for one agent. Embedded by default (this
 * process holds the keys, policy and store); with --broker, a client of a running broker.
 */
export async function mcpCommand(flags: McpFlags) {
  const subjectToken = process.env.BATON_SUBJECT_TOKEN;
  if (flags.broker !== undefined) {
    const broker = parseSetting(IssuerSchema, flags.broker, "--broker", "BATON_BROKER");
    // The running broker writes the audit log: a sync asked of this client would be silently
    // lost, and with it the durability the operator meant to buy.
    if (auditSyncSetting(flags)) {
      throw new ConfigError(
        "--audit-sync (BATON_AUDIT_SYNC): has no effect with --broker; give it to the broker's baton serve",
      );
    }
    const clientSecret = process.env.BATON_CLIENT_SECRET;
    if (!clientSecret)
      throw new ConfigError(
        "BATON_CLIENT_SECRET: required with --broker (the agent's client secret)",
      );
    if (!subjectToken)
      throw new ConfigError("BATON_SUBJECT_TOKEN: required with --broker (the user's token)");
    await serveStdio(remoteSession({ broker, agentId: flags.agent, clientSecret, subjectToken }));
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
    const stopKeyRefresh = keepKeysCurrent(broker.deps.keys);
    try {
      // No HTTP listener here: approvals are decided at the CLI, not on a page (design §3.5).
      await serveStdio(embeddedSession(broker.deps, { agentId: flags.agent }, session, false));
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
