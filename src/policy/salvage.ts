/**
 * What did parse of an invalid policy file, so that the cross-file checks still run on it and
 * every problem is reported in one run (issue 17): the values at fault are removed, one issue
 * path at a time, until the rest fits the schema. A value whose removal does not help (a
 * required field) takes its parent with it, up to the whole entry, then the whole file.
 *
 * The result is only ever cross-checked, never compiled into a policy.
 *
 * @module policy/salvage
 */

import { type PolicyFile, PolicyFileSchema } from "./schema.js";

/** Enough for a handful of problems per entry; a file past it is left out of the cross-check. */
const MAX_ROUNDS = 20;
const REMOVED = Symbol("removed");

/** The valid part of `data`, or undefined when nothing of it can be kept. */
export function salvagePolicyFile(data: unknown): PolicyFile | undefined {
  let copy: unknown = structuredClone(data);
  const tried = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const result = PolicyFileSchema.safeParse(copy);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      let path = issuePath(issue);
      // Removing it once did not help: remove what holds it.
      while (path.length > 0 && tried.has(JSON.stringify(path))) path = path.slice(0, -1);
      if (path.length === 0) return undefined;
      tried.add(JSON.stringify(path));
      removeAt(copy, path);
    }
    copy = compact(copy);
  }
  return undefined;
}

/** An unknown key's path names the key itself, so that only it is removed. */
function issuePath(issue: {
  code: string;
  path: readonly PropertyKey[];
  keys?: readonly string[];
}): PropertyKey[] {
  if (issue.code === "unrecognized_keys" && issue.keys?.[0] !== undefined) {
    return [...issue.path, issue.keys[0]];
  }
  return [...issue.path];
}

function removeAt(root: unknown, path: readonly PropertyKey[]): void {
  let node: unknown = root;
  for (const segment of path.slice(0, -1)) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  if (node === null || typeof node !== "object") return;
  const last = path[path.length - 1] as PropertyKey;
  // Array items are marked, not spliced, so the other issues' indexes stay right.
  if (Array.isArray(node)) node[last as number] = REMOVED;
  else delete (node as Record<PropertyKey, unknown>)[last];
}

function compact(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== REMOVED).map(compact);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v)]));
}
