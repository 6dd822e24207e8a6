/**
 * Writes `policies/policy.schema.json` from the zod schema (`npm run policies:schema`).
 * test/policy/json-schema.test.ts fails when the committed file is out of date.
 *
 * @module scripts/write-policy-schema
 */

import { writeFile } from "node:fs/promises";
import { policyJsonSchema } from "../src/policy/json-schema.js";

const target = new URL("../policies/policy.schema.json", import.meta.url);
await writeFile(target, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
