/**
 * `baton policy init [DIR]`: writes a starter policy to edit (design §3.1), with the JSON
 * Schema beside it for the editor. The client secrets it makes are printed once, on stdout,
 * and never written: the policy holds only their SHA-256, like any policy. A directory that
 * already holds policy files is refused, as every `*.yaml` in it would be merged with the
 * starter. The commander wiring lives elsewhere.
 *
 * @module cli/policy-init
 */

import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { STARTER, starterPolicy } from "./starter-policy.js";

export interface InitOutput {
  log(line: string): void;
  error(line: string): void;
}

/** The file the starter goes in, and the schema its first line points the editor to. */
export const POLICY_FILE = "policy.yaml";
const SCHEMA_FILE = "policy.schema.json";
/** Two levels up, both as `src/cli/` and as the installed build's `dist/cli/`. */
const SCHEMA = new URL(`../../policies/${SCHEMA_FILE}`, import.meta.url);

/** Returns the process exit code. */
export async function policyInit(dir: string, out: InitOutput): Promise<number> {
  const existing = await policyFilesIn(dir);
  if (existing.length > 0) {
    out.error(
      `baton: ${dir} already holds policy files (${existing.join(", ")}); nothing was written. ` +
        "Choose another directory: baton policy init DIR",
    );
    return 1;
  }
  const secrets = { agent: newSecret(), apiClient: newSecret() };
  await mkdir(dir, { recursive: true });
  // `wx`: should a policy file appear meanwhile, it is still never overwritten.
  await writeFile(
    join(dir, POLICY_FILE),
    starterPolicy({ agent: sha256(secrets.agent), apiClient: sha256(secrets.apiClient) }),
    { flag: "wx" },
  );
  // The schema is Baton's, not the user's: a copy from an older version is brought up to date.
  await copyFile(SCHEMA, join(dir, SCHEMA_FILE));
  for (const line of report(dir, secrets)) out.log(line);
  return 0;
}

/** The `*.yaml`/`*.yml` names the policy loader would read in `dir` (dot files are skipped). */
async function policyFilesIn(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((name) => /\.ya?ml$/.test(name) && !name.startsWith(".")).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** 256 random bits, URL-safe so that it pastes into a shell or a form unquoted. */
const newSecret = () => randomBytes(32).toString("base64url");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function report(dir: string, secrets: { agent: string; apiClient: string }): string[] {
  const policy = join(dir, POLICY_FILE);
  return [
    `Wrote ${policy} (a starter policy to edit) and ${join(dir, SCHEMA_FILE)} (for your editor).`,
    "",
    `Client secrets, shown only this once (${POLICY_FILE} holds only their SHA-256):`,
    `  ${STARTER.agent}  ${secrets.agent}`,
    `  ${STARTER.apiClient}  ${secrets.apiClient}`,
    "",
    "Next:",
    `  baton policy check ${dir}`,
    `  baton serve --policies ${dir}`,
    `  baton dev-token --user alice@example.com --agent ${STARTER.agent} --policies ${dir}`,
  ];
}
