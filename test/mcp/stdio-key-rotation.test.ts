/**
 * A long-running `baton mcp` (embedded, stdio) follows key rotations made elsewhere on its
 * store, as `baton serve` does: after `baton keys rotate`, its next tokens are signed with the
 * new key within the refresh interval (5 s), and the JWKS publishes both keys.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { Children, runBaton, storeFlags } from "../helpers/cli-process.js";
import { ALICE, callOk, connectStdio } from "../helpers/mcp.js";

const children = new Children();
let dir = "";
afterAll(async () => {
  await children.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

describe("baton mcp: key rotation by another process", () => {
  it("signs with the rotated key within the refresh interval, without a restart", async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-mcp-keys-"));
    const flags = storeFlags(dir);
    const mcp = await connectStdio(children, [
      "--agent",
      "orchestrator",
      "--dev-user",
      ALICE,
      ...flags,
    ]);
    try {
      const ask = async () =>
        (await callOk(mcp.client, "request_token", { api: "calendar", scopes: ["calendar.read"] }))
          .access_token as string;
      const before = kidOf(await ask());
      const rotated = await runBaton(children, ["keys", "rotate", ...flags]);
      // Refreshed every 5 s: poll for up to 12 s (two intervals and start-up slack).
      const deadline = Date.now() + 12_000;
      let after = before;
      while (after === before && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        after = kidOf(await ask());
      }
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      // The key it signs with now is the one `baton keys rotate` made.
      expect(rotated).toContain(String(after));
    } finally {
      await mcp.close();
    }
  }, 60_000);
});
