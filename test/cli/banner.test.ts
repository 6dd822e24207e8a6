/** The `serve` banner shows where the store is, never its credentials (rule 9). */

import { describe, expect, it } from "vitest";
import { serveBanner } from "../../src/cli/banner.js";
import { loadPolicy } from "../../src/policy/load.js";
import { redactedStoreUrl } from "../../src/store/store-url.js";
import { DEMO_POLICIES } from "../helpers/cli-process.js";

describe("serve banner: the store URL", () => {
  it("a Redis URL with a password is shown without it", async () => {
    const policy = await loadPolicy(DEMO_POLICIES);
    const banner = serveBanner(
      "http://127.0.0.1:8787",
      policy,
      "policies",
      "redis://baton:hunter2@redis.internal:6380/2",
    );
    expect(banner).not.toContain("hunter2");
    expect(banner).not.toContain("baton:");
    expect(banner).toContain("store          redis://redis.internal:6380/2");
    // Without a key secret, the operator is told the keys are stored in the clear.
    expect(banner).toContain(
      "signing keys   not encrypted at rest (set BATON_KEY_SECRET to seal them)",
    );
  });

  it("URLs without credentials are shown as given; unparsable ones not at all", () => {
    expect(redactedStoreUrl("sqlite://data/baton.db")).toBe("sqlite://data/baton.db");
    expect(redactedStoreUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactedStoreUrl("rediss://:s3cret@host:6380")).toBe("rediss://host:6380");
    expect(redactedStoreUrl("redis://:s3cret@[bad")).toBe("the store URL");
  });
});
