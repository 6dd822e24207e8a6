/**
 * Small valid policy files for tests, as plain data; tests copy and break them.
 *
 * @module test/policy/fixtures
 */

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PolicyError } from "../../src/policy/load.js";

export const SECRET_SHA256 = "a".repeat(64);

export function apisFile() {
  return {
    apis: {
      calendar: {
        resource: "https://calendar.example.com",
        description: "Calendar",
        max_ttl: "10m",
        default_scopes: ["calendar.read"],
        scopes: {
          "calendar.read": "Read events",
          "calendar.write": { description: "Change events", approval: "subject" },
        },
      },
    },
  };
}

export function agentsFile() {
  return {
    agents: {
      planner: { secret_sha256: SECRET_SHA256, scopes: ["calendar.read"], delegate_to: ["helper"] },
      helper: { secret_sha256: SECRET_SHA256, scopes: ["calendar.read", "calendar.write"] },
    },
  };
}

/** A fresh temporary directory holding `files` (name → text). */
export async function tempPolicyDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "baton-policy-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** The PolicyError that `fn` throws (fails the test if it throws nothing, or something else). */
export function catchPolicyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error("expected a PolicyError");
}
