/**
 * Reads a policies directory and compiles it: the only file of `policy/` that touches disk.
 *
 * Steps: list the `*.yaml`/`*.yml` files (sorted, not recursive), parse each as YAML, then hand
 * them to `compilePolicy`. Every problem becomes a `PolicyError` line; YAML syntax errors read
 * `file: line N: message`, a repeated key `file: path: duplicate key (line N, first at line M)`.
 *
 * @module policy/load
 */

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { compilePolicy, type PolicySource } from "./compile.js";
import { issueLine, PolicyError } from "./policy-error.js";
import type { Policy } from "./types.js";

export { compilePolicy, type PolicySource } from "./compile.js";
export { PolicyError } from "./policy-error.js";

/**
 * Loads and compiles every policy file in `dir`.
 *
 * @throws PolicyError listing every problem found, including a missing or empty directory.
 */
export async function loadPolicy(dir: string): Promise<Policy> {
  return compilePolicy(await readPolicySources(dir));
}

/**
 * The parsed (not yet validated) policy files of `dir`, in name order. `baton policy check`
 * keeps them to say which file defines what (policy/escalation.ts).
 *
 * @throws PolicyError listing every file that cannot be read or parsed.
 */
export async function readPolicySources(dir: string): Promise<PolicySource[]> {
  const names = await listPolicyFiles(dir);
  const parsed = await Promise.all(names.map((name) => readPolicyFile(dir, name)));
  const problems = parsed.flatMap((p) => ("issues" in p ? p.issues : []));
  if (problems.length > 0) throw new PolicyError(problems);
  return parsed.filter((p): p is PolicySource => "data" in p);
}

const POLICY_FILE = /\.ya?ml$/;

/**
 * Policy file names in `dir`, sorted so that "defined first" is stable across machines.
 * Dot files are skipped: editors' temporary files, and the `..data` links of a Kubernetes
 * ConfigMap mount, whose real files are symlinks (hence `stat`, which follows them).
 */
async function listPolicyFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new PolicyError([`${dir}: ${describeDirError(err)}`]);
  }
  const candidates = entries.filter((name) => POLICY_FILE.test(name) && !name.startsWith("."));
  const isFile = await Promise.all(
    candidates.map((name) =>
      stat(join(dir, name)).then(
        (s) => s.isFile(),
        () => false,
      ),
    ),
  );
  const names = candidates.filter((_, i) => isFile[i]).sort();
  if (names.length === 0) throw new PolicyError([`${dir}: no policy files (*.yaml, *.yml) found`]);
  return names;
}

async function readPolicyFile(
  dir: string,
  name: string,
): Promise<PolicySource | { issues: string[] }> {
  let text: string;
  try {
    text = await readFile(join(dir, name), "utf8");
  } catch (err) {
    return { issues: [`${name}: cannot read the file (${errorCode(err) ?? "unknown error"})`] };
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    // A repeated key is named by its path; yaml's message names neither key nor first line.
    const others = doc.errors.filter((e) => e.code !== "DUPLICATE_KEY");
    return {
      issues: [
        ...others.map((e) => `${name}: line ${e.linePos?.[0].line ?? 1}: ${firstLine(e.message)}`),
        ...(others.length < doc.errors.length ? duplicateKeyIssues(name, text) : []),
      ],
    };
  }
  // A file of comments only is empty, not malformed.
  if (doc.contents === null) return { file: name, data: {} };
  try {
    return { file: name, data: doc.toJS() };
  } catch (err) {
    // Raised while resolving aliases (an unknown anchor, too many aliases).
    return { issues: [`${name}: ${err instanceof Error ? err.message : String(err)}`] };
  }
}

/**
 * Names the key a YAML file repeats: yaml's own error says only "Map keys must be unique", so
 * the file is read again allowing repeats, to give the key's path and both lines.
 */
function duplicateKeyIssues(file: string, text: string): string[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines });
  const issues: string[] = [];
  const lineOf = (node: Node) => lines.linePos(node.range?.[0] ?? 0).line;
  const walk = (node: unknown, path: readonly PropertyKey[]): void => {
    if (isSeq(node)) {
      node.items.forEach((item, i) => {
        walk(item, [...path, i]);
      });
    }
    if (!isMap(node)) return;
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const line = isScalar(pair.key) ? lineOf(pair.key) : 0;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, line);
      else {
        issues.push(
          issueLine(file, [...path, key], `duplicate key (line ${line}, first at line ${first})`),
        );
      }
      walk(pair.value, [...path, key]);
    }
  };
  walk(doc.contents, []);
  return issues;
}

/** yaml's message repeats the position and quotes the source below it: keep the reason only. */
function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

function describeDirError(err: unknown): string {
  const code = errorCode(err);
  if (code === "ENOENT") return "no such directory";
  if (code === "ENOTDIR") return "not a directory";
  return `cannot read the policies directory (${code ?? "unknown error"})`;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
