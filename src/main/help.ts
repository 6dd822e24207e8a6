/**
 * What `baton --help` adds to commander's own help: the version, read from the package at run
 * time, and the examples every command's help ends with.
 *
 * @module main/help
 */

import { readFileSync } from "node:fs";
import type { Command } from "commander";

/**
 * The version in the package's own package.json: two levels up from this module, both as
 * `src/main/help.ts` and as the installed build's `dist/main/help.js`.
 */
export function packageVersion(): string {
  const manifest = JSON.parse(
    readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
  ) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}

/** Ends `cmd`'s help with an "Examples:" section: one `$ baton …` line each, comments after `#`. */
export function withExamples(cmd: Command, examples: readonly string[], before = ""): Command {
  const lines = examples.map((line) => `  $ ${line}`).join("\n");
  return cmd.addHelpText("after", `${before}\nExamples:\n${lines}\n`);
}

/** The examples of each command, by its full name (`approvals list`); "" is `baton` itself. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  "": [
    "npm start                                   # the demo broker on http://127.0.0.1:8787",
    "baton serve --port 8795 --policies ./policies",
    "baton dev-token --user alice@example.com --agent orchestrator",
    "baton audit --denied                        # why requests were refused",
    "baton serve --help                          # each command's flags and examples",
  ],
  serve: [
    "baton serve                                 # ./policies, sqlite://data/baton.db, port 8787",
    "baton serve --port 8795                     # other commands then take --issuer http://127.0.0.1:8795",
    "baton serve --host 0.0.0.0 --issuer https://baton.example.com --store redis://127.0.0.1:6379/0",
    "baton serve --dev --store memory://         # forgets everything on exit",
  ],
  policy: ["baton policy init", "baton policy check ./policies", "baton policy explain --help"],
  "policy init": [
    "baton policy init                           # ./policies/policy.yaml, then edit it",
    "baton policy init ./my-policies && baton serve --policies ./my-policies",
  ],
  "policy check": ["baton policy check", "baton policy check ./my-policies"],
  "policy explain": [
    "baton policy explain --agent orchestrator --api flights --scope flights.search",
    "baton policy explain --agent flight-booker --api flights --scope flights.book --via orchestrator",
    "baton policy explain ./my-policies --agent orchestrator --api calendar --scope calendar.read --json",
  ],
  "dev-token": [
    "baton dev-token --user alice@example.com --agent orchestrator",
    "baton dev-token --user alice@example.com --for approvals",
    "baton dev-token --user alice@example.com --issuer http://127.0.0.1:8795   # a broker on port 8795",
  ],
  mcp: [
    "baton mcp --agent orchestrator --dev-user alice@example.com",
    "BATON_SUBJECT_TOKEN=eyJ... baton mcp --agent orchestrator",
    "BATON_CLIENT_SECRET=orchestrator-secret BATON_SUBJECT_TOKEN=eyJ... \\\n      baton mcp --agent orchestrator --broker http://127.0.0.1:8787",
  ],
  approvals: ["baton approvals list", "baton approvals approve ID"],
  "approvals list": ["baton approvals list", "baton approvals list --all"],
  // Approving and denying take the same ID, from `baton approvals list`.
  "approvals approve": ["baton approvals approve ID"],
  "approvals deny": ["baton approvals deny ID"],
  "approvals login": ["baton approvals login --as alice@example.com"],
  keys: ["baton keys list", "baton keys rotate"],
  "keys rotate": ["baton keys rotate", "baton keys rotate --store redis://127.0.0.1:6379/0"],
  "keys list": ["baton keys list"],
  "keys withdraw": ["baton keys withdraw KID                     # KID from baton keys list"],
  audit: [
    "baton audit --denied",
    "baton audit --task TASK_ID                  # the delegation tree of one task",
    "baton audit --since 10m --json",
  ],
};

/** `mcp --help`: where its credentials come from, which are env vars only (never in `ps`). */
export const MCP_ENVIRONMENT = `
Environment:
  BATON_SUBJECT_TOKEN   the user's token the agent acts on (or --dev-user, with dev_issuer)
  BATON_CLIENT_SECRET   the agent's client secret; required with --broker
`;

/** The full name of a command below `baton`: `approvals list`, `serve`; "" for `baton`. */
function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Adds its examples to `program` and every command under it (test/cli/cli-polish checks all have some). */
export function addExamples(program: Command): void {
  const visit = (cmd: Command) => {
    const name = fullName(cmd);
    const examples = EXAMPLES[name];
    if (examples !== undefined) withExamples(cmd, examples, name === "mcp" ? MCP_ENVIRONMENT : "");
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}
