/**
 * Validates one parsed policy file against `PolicyFileSchema` and turns zod's issues into
 * `file: path: message` lines a person can act on.
 *
 * zod reports some problems as one nested issue (a bad record key, an unknown key list, a
 * failed union); they are flattened here so that each line names the exact key at fault.
 *
 * @module policy/validate
 */

import { issueLine } from "./policy-error.js";
import { type PolicyFile, PolicyFileSchema } from "./schema.js";

export type Validated = { ok: true; value: PolicyFile } | { ok: false; issues: string[] };

/** The fields of a zod issue this module reads (structural, so zod stays in schema files). */
interface RawIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
  readonly issues?: readonly RawIssue[];
  readonly errors?: readonly (readonly RawIssue[])[];
}

const NOUNS: Readonly<Record<string, string>> = {
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  string: "text",
  boolean: "true or false",
  int: "a whole number",
  number: "a number",
};

/** What the YAML value turned out to be, in YAML words. */
function describeValue(value: unknown): string {
  if (value === null) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return "text";
  return `${typeof value} ${String(value)}`;
}

export function validatePolicyFile(file: string, data: unknown): Validated {
  const result = PolicyFileSchema.safeParse(data, {
    // Wording for wrong types, unless the schema gave its own message.
    error: (iss) => {
      if (iss.code !== "invalid_type") return undefined;
      if (iss.input === undefined) return "is required";
      return `expected ${NOUNS[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    },
  });
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    issues: flatten(result.error.issues).map((i) => issueLine(file, i.path, i.message)),
  };
}

function flatten(issues: readonly RawIssue[], prefix: readonly PropertyKey[] = []): RawIssue[] {
  return issues.flatMap((issue) => flattenOne(issue, [...prefix, ...issue.path]));
}

function flattenOne(issue: RawIssue, path: readonly PropertyKey[]): RawIssue[] {
  // One line per unknown key, pointing at the key itself.
  if (issue.code === "unrecognized_keys" && issue.keys) {
    return issue.keys.map((key) => ({ ...issue, path: [...path, key] }));
  }
  // A bad record key: the key schema's own message says what an id must look like.
  if (issue.code === "invalid_key" && issue.issues) {
    return issue.issues.map((inner) => ({ ...inner, path, message: `bad key: ${inner.message}` }));
  }
  // A failed union: if one branch got past the type check, its issues are the useful ones.
  if (issue.code === "invalid_union" && issue.errors) {
    const closest = issue.errors.find((branch) => !branch.every(isTypeMismatchAtRoot));
    if (closest) return flatten(closest, path);
  }
  return [{ ...issue, path }];
}

const isTypeMismatchAtRoot = (issue: RawIssue) =>
  issue.code === "invalid_type" && issue.path.length === 0;
