/**
 * The package as a user gets it: `npm pack` of this repository, installed into an empty
 * project with `npm install ./baton-*.tgz`. Used by test/package/package.test.ts, whose header
 * says why the SQLite addon is taken from this repository rather than compiled again.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import { type Children, type CliResult, cliEnv, collect, ROOT } from "../helpers/cli-process.js";

export interface Run {
  readonly cwd: string;
  /** Variables added to the environment (BATON_* of the parent are never passed on). */
  readonly env?: Record<string, string>;
}

/**
 * `command args` in `cwd`, tracked by `children`: in a process group of its own, so that
 * stopping it stops what `npx` started under it too.
 */
export function start(
  children: Children,
  command: string,
  args: readonly string[],
  { cwd, env = {} }: Run,
): ChildProcess {
  const child = spawn(command, args, {
    cwd,
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.track(child, { group: true });
  return child;
}

/** Runs `command args` in `cwd` to completion; it must exit 0. */
export async function run(
  children: Children,
  command: string,
  args: readonly string[],
  options: Run,
): Promise<CliResult> {
  const result = await collect(start(children, command, args, options));
  expect(result.code, `${command} ${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result;
}

export interface Tarball {
  readonly path: string;
  /** The paths in the tarball, relative to the package root. */
  readonly files: readonly string[];
  readonly size: number;
}

/**
 * `npm pack` of this repository into `dest`. `--ignore-scripts`: the system project's global
 * setup (test/setup/build-dist.ts) has just built `dist/`; `prepare` would build it again.
 */
export async function pack(children: Children, dest: string): Promise<Tarball> {
  const { stdout } = await run(
    children,
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", dest],
    { cwd: ROOT },
  );
  const [report] = JSON.parse(stdout) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  if (report === undefined) throw new Error(`npm pack printed no report: ${stdout}`);
  return {
    path: join(dest, report.filename),
    files: report.files.map((f) => f.path),
    size: report.size,
  };
}

/**
 * An empty ESM project in `dir` with the tarball installed: `npm install <tarball>`, from the
 * npm cache that `npm ci` filled (the registry only for what it lacks), install scripts off;
 * then the SQLite addon, see `provideSqliteAddon`.
 */
export async function installInto(children: Children, dir: string, tarball: string) {
  await writeFile(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "baton-user", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  await run(
    children,
    "npm",
    [
      "install",
      tarball,
      "--prefer-offline",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    { cwd: dir },
  );
  return provideSqliteAddon(children, dir);
}

/**
 * sqlite3's install script, skipped by `--ignore-scripts`, would compile the addon for minutes
 * (no prebuilt binary is reachable here). This repository's `npm ci` compiled it already: when
 * the project resolved the same sqlite3 version, that file is copied where `bindings` looks
 * for it; otherwise `npm rebuild sqlite3` runs the install script after all. Returns which.
 */
async function provideSqliteAddon(children: Children, dir: string): Promise<"copied" | "rebuilt"> {
  const ours = sqlite3Dir(join(ROOT, "package.json"));
  const theirs = sqlite3Dir(join(dir, "node_modules", "baton", "package.json"));
  if ((await versionOf(ours)) !== (await versionOf(theirs))) {
    await run(children, "npm", ["rebuild", "sqlite3", "--loglevel=error"], { cwd: dir });
    return "rebuilt";
  }
  const addon = join("build", "Release", "node_sqlite3.node");
  await mkdir(dirname(join(theirs, addon)), { recursive: true });
  await copyFile(join(ours, addon), join(theirs, addon));
  return "copied";
}

/** The sqlite3 package that @keyv/sqlite loads, as Node resolves it from `packageJson`. */
function sqlite3Dir(packageJson: string): string {
  const keyvSqlite = createRequire(packageJson).resolve("@keyv/sqlite");
  return dirname(createRequire(keyvSqlite).resolve("sqlite3/package.json"));
}

async function versionOf(packageDir: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8"));
  return version as string;
}
