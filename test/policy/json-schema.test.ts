/** The committed policies/policy.schema.json must match the zod schema it is generated from. */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { policyJsonSchema } from "../../src/policy/json-schema.js";

describe("policies/policy.schema.json", () => {
  it("is up to date with PolicyFileSchema", async () => {
    const committed: unknown = JSON.parse(await readFile("policies/policy.schema.json", "utf8"));
    expect(
      committed,
      "policies/policy.schema.json is stale: run `npm run policies:schema`",
    ).toEqual(policyJsonSchema());
  });

  it("names itself and refuses unknown top-level keys", () => {
    const schema = policyJsonSchema();
    expect(schema).toMatchObject({
      $id: "urn:baton:policy-file",
      title: "Baton policy file",
      additionalProperties: false,
    });
  });
});
