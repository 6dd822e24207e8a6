/**
 * docs/cli.md, rendered from the commander program itself (issue 17): every command, argument,
 * flag, default, environment variable and example comes from the objects `baton --help` prints,
 * so the reference cannot drift from the CLI. `npm run docs:cli` writes it; a test fails when
 * the committed file differs from what this renders.
 *
 * @module main/cli-reference
 */

import type { Argument, Command, Option } from "commander";
import { EXAMPLES, MCP_ENVIRONMENT } from "./help.js";

const HEADER = `# Command line reference

<!-- Generated from the commander program (src/main/program.ts) by \`npm run docs:cli\`.
     Do not edit: test/docs/cli-docs.test.ts fails when this file is stale. -->

\`baton\` is the package's command (\`npx baton …\` in this repository, \`baton …\` once
installed). Every flag that has an environment variable can be set by either; the flag wins.
`;

/**
 * Settings read from the environment alone: secrets (a flag would show in \`ps\`) and knobs
 * of the process. test/docs/cli-docs.test.ts fails when src/ reads a BATON_ variable that
 * neither a flag nor this list names.
 */
export const ENVIRONMENT_ONLY: ReadonlyArray<readonly [name: string, what: string]> = [
  [
    "BATON_KEY_SECRET",
    "seals the private signing keys in the store (AES-256-GCM, key from HKDF-SHA256); at least 32 characters, the same for every process on the store; or `--key-secret-file`",
  ],
  [
    "BATON_APPROVAL_LOGIN_SECRET",
    "`serve`: the approval page's client secret at the OpenID Provider of `broker.approval_login`; without it, a public client (PKCE only)",
  ],
  [
    "BATON_AUDIT_SYNC",
    "`serve`, `mcp`: `1` as `--audit-sync` (a token leaves only once its audit line is on disk), `0` off",
  ],
  [
    "BATON_WATCH",
    "`0`: `serve` and `mcp` stop watching the policy directory (SIGHUP still reloads)",
  ],
  [
    "BATON_LOG_LEVEL",
    "operational logs (pino JSON, to stderr): `debug`, `info` (default), `warn`, `error`",
  ],
  ["BATON_SUBJECT_TOKEN", "`mcp`: the user's token the agent acts on (or `--dev-user`)"],
  ["BATON_CLIENT_SECRET", "`mcp --broker`: the agent's client secret"],
];

/** The whole reference: an index, then one section per command in \`baton --help\` order. */
export function cliReference(program: Command): string {
  const commands = leaves(program);
  const index = commands.map((c) => `- [\`baton ${fullName(c)}\`](#${anchor(c)})`);
  index.push("- [Environment variables without a flag](#environment-variables-without-a-flag)");
  return [
    HEADER,
    index.join("\n"),
    programSection(program),
    ...commands.map(section),
    environmentOnly(),
  ]
    .join("\n\n")
    .concat("\n");
}

/** Commands that do something: a group (`keys`) is listed through its subcommands. */
function leaves(cmd: Command): Command[] {
  return cmd.commands.flatMap((sub) => (sub.commands.length > 0 ? leaves(sub) : [sub]));
}

function programSection(program: Command): string {
  return blocks([
    "## `baton`",
    `${program.description()}.`,
    optionTable(program.options),
    examples(""),
  ]);
}

function section(cmd: Command): string {
  const name = fullName(cmd);
  return blocks([
    `## \`baton ${name}\``,
    `${capitalise(cmd.description())}.`,
    ["```text", `baton ${name} ${cmd.usage()}`.trim(), "```"].join("\n"),
    argumentList(cmd.registeredArguments),
    optionTable(cmd.options),
    name === "mcp" ? environment() : "",
    examples(name),
  ]);
}

function environmentOnly(): string {
  const rows = ENVIRONMENT_ONLY.map(([name, what]) => `| ${code(name)} | ${cell(what)} |`);
  return blocks([
    "## Environment variables without a flag",
    ["| variable | what |", "| --- | --- |", ...rows].join("\n"),
  ]);
}

/** Markdown blocks, one blank line apart; empty ones left out. */
const blocks = (parts: readonly string[]) => parts.filter((p) => p !== "").join("\n\n");

function argumentList(args: readonly Argument[]): string {
  if (args.length === 0) return "";
  const rows = args.map((a) => {
    const fallback = a.defaultValue === undefined ? "" : ` (default: \`${a.defaultValue}\`)`;
    const description = a.description === "" ? "" : `: ${a.description}`;
    return `- \`${a.name()}\`${a.required ? "" : " (optional)"}${description}${fallback}`;
  });
  return `Arguments:\n\n${rows.join("\n")}`;
}

function optionTable(options: readonly Option[]): string {
  const rows = options
    .filter((o) => o.long !== "--help")
    .map((o) => {
      const notes = [
        o.mandatory ? "required" : "",
        o.argChoices === undefined ? "" : `one of ${o.argChoices.map(code).join(", ")}`,
        o.defaultValue === undefined ? "" : `default ${code(String(o.defaultValue))}`,
      ].filter((n) => n !== "");
      const description = [o.description, ...notes].join("; ");
      return `| ${code(o.flags)} | ${o.envVar === undefined ? "" : code(o.envVar)} | ${cell(description)} |`;
    });
  if (rows.length === 0) return "";
  return ["| flag | environment | what |", "| --- | --- | --- |", ...rows].join("\n");
}

/** `mcp` takes its secrets from the environment only (never a flag: it would show in `ps`). */
function environment(): string {
  const rows = MCP_ENVIRONMENT.trim()
    .split("\n")
    .slice(1)
    .map((line) => line.trim().match(/^(\S+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map(([, name, what]) => `- ${code(name as string)}: ${what}`);
  return `Environment only (never flags, which \`ps\` would show):\n\n${rows.join("\n")}`;
}

function examples(name: string): string {
  const lines = EXAMPLES[name];
  if (lines === undefined) return "";
  return ["Examples:", "", "```sh", ...lines.map((l) => `$ ${l}`), "```"].join("\n");
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** GitHub's heading anchor for "`baton approvals list`": baton-approvals-list. */
const anchor = (cmd: Command) => `baton-${fullName(cmd).replaceAll(" ", "-")}`;
const code = (text: string) => `\`${text}\``;
const cell = (text: string) => text.replaceAll("|", "\\|");
const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
