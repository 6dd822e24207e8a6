/**
 * The JSON Schema of a policy file, generated from `PolicyFileSchema` so the two never drift.
 *
 * Shipped as `policies/policy.schema.json` for editors (yaml-language-server reads the
 * `# yaml-language-server: $schema=./policy.schema.json` line atop each file). Draft-07,
 * because it is the draft that editors support best. The input side of the schema is used:
 * fields with defaults are optional to write.
 *
 * @module policy/json-schema
 */

import { z } from "zod";
import { PolicyFileSchema } from "./schema.js";

export const POLICY_SCHEMA_ID = "urn:baton:policy-file";

export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PolicyFileSchema, { target: "draft-7", io: "input" });
  const { $schema, ...rest } = schema;
  return { $schema, $id: POLICY_SCHEMA_ID, title: "Baton policy file", ...rest };
}
