/** Token ids (`jti`, RFC 7519 §4.1.7): unique, 128 random bits, drawn from a pooled CSPRNG. */

import { describe, expect, it } from "vitest";
import { newTokenId } from "../../src/tokens/mint.js";

describe("newTokenId", () => {
  it("10,000 ids across many pool refills: all distinct, each 16 bytes as unpadded base64url", () => {
    const ids = Array.from({ length: 10_000 }, () => newTokenId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, "base64url")).toHaveLength(16);
    }
    // Pooled bytes are still random: about half of all bits set, never a repeated block.
    const bits = ids.reduce(
      (n, id) =>
        n +
        [...Buffer.from(id, "base64url")].reduce(
          (m, b) => m + b.toString(2).split("1").length - 1,
          0,
        ),
      0,
    );
    expect(bits / (ids.length * 128)).toBeGreaterThan(0.49);
    expect(bits / (ids.length * 128)).toBeLessThan(0.51);
  });
});
