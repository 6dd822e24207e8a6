#!/usr/bin/env node
/**
 * `npm run inspect [-- <Inspector options>]`: the MCP Inspector on Baton's tools, from the
 * project root and with no setup. It starts `baton mcp --agent orchestrator --dev-user
 * alice@example.com` (the embedded broker on the policies in `policies/`) under the Inspector:
 *
 *   npm run inspect                                   the web UI (prints its URL, opens a browser)
 *   npm run inspect -- --cli --method tools/list      one request, JSON on stdout (agents, CI)
 *   npm run inspect -- --cli --method tools/call --tool-name whoami
 *
 * (`npm run -s inspect -- --cli …` leaves out npm's own `> baton@… inspect` lines, so that
 * stdout is nothing but the JSON.)
 *
 * The agent and the user come from BATON_AGENT and BATON_DEV_USER when set (BATON_SUBJECT_TOKEN
 * instead of a development user); every other BATON_* variable (BATON_POLICIES, BATON_STORE, …)
 * reaches `baton mcp` as well. Options after `--` go to the Inspector unchanged; `--cli` or
 * `--tui` may stand anywhere among them.
 *
 * Why the Inspector v2 (`@modelcontextprotocol/inspector`) and not the lighter
 * `@modelcontextprotocol/inspector-cli` 1.0.3: v1 is deprecated (security fixes only) and has no
 * UI of its own (without `--cli` it looks for a sibling package and fails with `Cannot find
 * module …/client/bin/start.js`); its `--cli` also starts only where `../package.json` exists.
 * v2 declares Node >=22.19 but its web UI and CLI both work on Node 20 (tested in
 * test/mcp/inspector.test.ts); npm prints EBADENGINE warnings at install.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "bin/baton.js");
/** The launcher takes its mode first; a user may write `--cli` anywhere after `--`. */
const MODES = new Set(["--web", "--cli", "--tui"]);

/** The launcher script of the installed Inspector (its `mcp-inspector` bin). */
function inspectorLauncher() {
  const require = createRequire(import.meta.url);
  let manifest;
  try {
    manifest = require.resolve("@modelcontextprotocol/inspector/package.json");
  } catch {
    console.error("npm run inspect: @modelcontextprotocol/inspector is missing; run npm ci first.");
    process.exit(1);
  }
  const { bin } = JSON.parse(readFileSync(manifest, "utf8"));
  return join(dirname(manifest), bin["mcp-inspector"]);
}

/**
 * `baton mcp` as an Inspector server entry. The Inspector starts its stdio server with a
 * minimal environment (HOME, PATH, …), so the BATON_* settings are handed over in `env`.
 * They go through a config file rather than `-e KEY=VALUE` flags, which would show a
 * BATON_SUBJECT_TOKEN or BATON_CLIENT_SECRET to anyone running `ps`.
 */
function batonServer() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("BATON_") && value !== undefined) env[key] = value;
  }
  const agent = process.env.BATON_AGENT || "orchestrator";
  // A real subject token wins over the development user in `baton mcp`; naming alice then
  // would only mislead whoever reads the command in the UI.
  const user = process.env.BATON_SUBJECT_TOKEN
    ? []
    : ["--dev-user", process.env.BATON_DEV_USER || "alice@example.com"];
  return {
    type: "stdio",
    command: process.execPath,
    args: [CLI, "mcp", "--agent", agent, ...user],
    env,
    cwd: process.cwd(),
  };
}

const args = process.argv.slice(2);
const mode = args.find((arg) => MODES.has(arg)) ?? "--web";
const rest = args.filter((arg) => !MODES.has(arg));
const launcher = inspectorLauncher();

// The entry may carry secrets (see batonServer): mkdtemp makes the directory 0700, and the
// file is 0600 as well.
const dir = mkdtempSync(join(tmpdir(), "baton-inspect-"));
const config = join(dir, "mcp.json");
// The only server in the file, so both modes pick it without a `--server`.
writeFileSync(config, JSON.stringify({ mcpServers: { baton: batonServer() } }, null, 2), {
  mode: 0o600,
});
const cleanUp = () => rmSync(dir, { recursive: true, force: true });

const child = spawn(process.execPath, [launcher, mode, "--config", config, ...rest], {
  stdio: "inherit",
  env: {
    // The stdio server needs no OAuth secrets: keep the Inspector's secret store in memory
    // rather than probing the OS keychain (a second slower, and warnings where there is none).
    MCP_INSPECTOR_SECRET_STORE: "memory",
    ...process.env,
  },
});

// Ctrl-C or a kill of the wrapper alone: the Inspector (and through it `baton mcp`) stops
// too, and the config file is removed once it has.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  cleanUp();
  console.error(`npm run inspect: ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  cleanUp();
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
