/**
 * The `baton` command line (design §3.1): every command, its flags and help, in the order
 * `baton --help` lists them. The actions live one file per command beside this one.
 *
 * @module main/program
 */

import { Command, Option } from "commander";
import { decideFromCli, listApprovals, printLoginLink } from "../cli/approvals.js";
import { auditCommand } from "../cli/audit.js";
import { rotateFromCli, withdrawFromCli } from "../cli/keys.js";
import { policyCheck } from "../cli/policy-check.js";
import { type ExplainFlags, policyExplain } from "../cli/policy-explain.js";
import { policyInit } from "../cli/policy-init.js";
import { systemClock } from "../clock.js";
import { DEFAULTS } from "../config.js";
import { desk } from "./approvals.js";
import { devTokenCommand } from "./dev-token.js";
import { addExamples, packageVersion } from "./help.js";
import { keysListCommand, withKeys } from "./keys.js";
import { mcpCommand } from "./mcp.js";
import { serveCommand } from "./serve.js";
import { auditSyncOption, type SharedFlags, sharedOptions, terminal } from "./settings.js";

export function buildProgram(): Command {
  const program = new Command("baton")
    .description("Delegation broker for AI agents (RFC 8693)")
    .version(packageVersion(), "-V, --version", "print the version")
    .showHelpAfterError();
  serveProgram(program);
  policyProgram(program);
  devTokenProgram(program);
  mcpProgram(program);
  approvalsProgram(program);
  keysProgram(program);
  auditProgram(program);
  addExamples(program);
  return program;
}

function serveProgram(program: Command) {
  sharedOptions(
    program
      .command("serve")
      .description(
        "run the broker: the OAuth endpoints, the MCP endpoint at /mcp and the approval page at /approvals",
      )
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
    "issuer identifier (default: http://HOST:PORT of --host and --port)",
  ).action(serveCommand);
}

function policyProgram(program: Command) {
  const policy = program.command("policy").description("policy files");
  policy
    .command("init")
    .description(
      "write a starter policy to edit; prints its client secrets once (only their SHA-256 is written)",
    )
    .argument(
      "[dir]",
      "where to write it (refused if it holds policy files)",
      process.env.BATON_POLICIES ?? DEFAULTS.policies,
    )
    .action(async (dir: string) => {
      process.exitCode = await policyInit(dir, terminal);
    });
  policy
    .command("check")
    .description("validate the policy files of a directory")
    .argument("[dir]", "policy directory", process.env.BATON_POLICIES ?? DEFAULTS.policies)
    .action(async (dir: string) => {
      process.exitCode = await policyCheck(dir, terminal);
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
      process.exitCode = await policyExplain(dir ?? flags.policies, flags, terminal);
    });
}

function devTokenProgram(program: Command) {
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
}

function mcpProgram(program: Command) {
  sharedOptions(
    program
      .command("mcp")
      .description(
        "an MCP server on stdio for one agent, acting for the user of BATON_SUBJECT_TOKEN (or --dev-user)",
      )
      .addOption(
        new Option("--agent <id>", "the agent this server acts as")
          .env("BATON_AGENT")
          .makeOptionMandatory(),
      )
      .addOption(
        new Option(
          "--dev-user <name>",
          "act for this user, with a development token (instead of BATON_SUBJECT_TOKEN)",
        ).env("BATON_DEV_USER"),
      )
      .addOption(
        new Option(
          "--broker <url>",
          "use a running broker (credentials from BATON_CLIENT_SECRET)",
        ).env("BATON_BROKER"),
      )
      .addOption(auditSyncOption()),
  ).action(mcpCommand);
}

function approvalsProgram(program: Command) {
  const approvals = program.command("approvals").description("the operator's approval desk");
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
}

function keysProgram(program: Command) {
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
}

/** Issue 8: reads the audit file only (no store, no keys), so it works beside a running broker. */
function auditProgram(program: Command) {
  sharedOptions(
    program
      .command("audit")
      .description(
        "print the audit log; with --task, the delegation tree of that task; with --denied, why requests were refused",
      )
      .option("--task <id>", "the task whose delegation tree to draw")
      .option(
        "--denied",
        "only refusals, each with its rule in plain words (the last 20 by default)",
      )
      .option("--json", "raw JSON lines (with --task: the tree as JSON)")
      .option("--since <when>", "only events since a duration ago (10m) or an ISO 8601 time")
      .option("--limit <n>", "only the last N events"),
  ).action(
    async (
      flags: SharedFlags & {
        task?: string;
        json?: boolean;
        since?: string;
        limit?: string;
        denied?: boolean;
      },
    ) => {
      process.exitCode = await auditCommand(
        { ...flags, path: flags.audit },
        systemClock.now(),
        terminal,
      );
    },
  );
}
