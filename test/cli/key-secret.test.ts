/**
 * The key secret from the operator's side: a real `baton serve` on SQLite with
 * BATON_KEY_SECRET says so in its banner and issues tokens; the CLI on the same store works with
 * the same secret (from the variable or from --key-secret-file) and refuses, exit 1 with a
 * message that names the setting and never the secret, without it, with another, with a short
 * one, or with both sources at once. The database files never hold a private key in the clear.
 */

import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Children, runCli, startServe, storeFlags } from "../helpers/cli-process.js";
import { ALICE } from "../helpers/mcp.js";
import { issued, jwksKids, kidOf, readCalendar } from "../helpers/nodes.js";

const children = new Children();
const SECRET = randomBytes(32).toString("base64");
let dir: string;
let url: string;

beforeAll(async () => {
  dir = await children.tempDir("baton-key-secret-");
}, 30_000);
afterAll(() => children.cleanup());

const flags = () => storeFlags(dir, url ? { issuer: url } : {});

/** `baton dev-token` on the served store, with `env`; its result. */
const devToken = (env: Record<string, string>, extra: string[] = []) =>
  runCli(children, ["dev-token", "--user", ALICE, ...flags(), ...extra], { env });

describe("BATON_KEY_SECRET: signing keys sealed at rest", () => {
  it("serve seals its keys, says so, and issues tokens signed by them", async () => {
    const served = await startServe(children, {
      args: flags(),
      env: { BATON_KEY_SECRET: SECRET, BATON_WATCH: "0" },
    });
    url = served.url;
    expect(served.banner).toContain("signing keys   sealed with the key secret");
    expect(served.banner).not.toContain(SECRET);

    const minted = await devToken({ BATON_KEY_SECRET: SECRET });
    expect(minted.code, minted.stderr).toBe(0);
    const token = await issued(url, minted.stdout.trim(), readCalendar);
    expect(await jwksKids(url)).toContain(kidOf(token));
  });

  it("the database files hold no private key in the clear", async () => {
    const files = (await readdir(dir)).filter((f) => f.startsWith("b.db"));
    expect(files).toContain("b.db");
    let all = "";
    for (const file of files) {
      const bytes = (await readFile(join(dir, file))).toString("latin1");
      expect(bytes, file).not.toMatch(/"d":"/);
      all += bytes;
    }
    // The ring is there (in the database or its write-ahead log), sealed.
    expect(all).toMatch(/"sealed":/);
  });

  it("the secret from --key-secret-file works the same", async () => {
    const file = join(dir, "key-secret");
    await writeFile(file, `${SECRET}\n`, { mode: 0o600 });
    const minted = await devToken({}, ["--key-secret-file", file]);
    expect(minted.code, minted.stderr).toBe(0);
    expect(minted.stdout.trim().split(".")).toHaveLength(3);
  });

  it.each([
    [
      "no secret",
      {},
      "baton: BATON_KEY_SECRET (--key-secret-file): the signing keys in the store are sealed, and no key secret was given; set it to the secret they were sealed with",
    ],
    [
      "another secret",
      { BATON_KEY_SECRET: randomBytes(32).toString("base64") },
      "baton: BATON_KEY_SECRET (--key-secret-file): the key secret does not open the signing keys in the store",
    ],
    [
      "a short secret",
      { BATON_KEY_SECRET: "too-short" },
      "baton: BATON_KEY_SECRET (--key-secret-file): the key secret must be at least 32 characters",
    ],
  ])(
    "%s: exit 1, the setting named, no token, the secret never echoed",
    async (_, env, message) => {
      const result = await devToken(env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim()).toBe(message);
      for (const value of Object.values(env)) expect(result.stderr).not.toContain(value);
    },
  );

  it("both the variable and the file: exit 1, one source only", async () => {
    const file = join(dir, "key-secret");
    const result = await devToken({ BATON_KEY_SECRET: SECRET }, ["--key-secret-file", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim()).toBe(
      "baton: --key-secret-file (BATON_KEY_SECRET_FILE): give it or BATON_KEY_SECRET, not both",
    );
  });

  it("keys rotate needs the secret too; with it, the new key is sealed and serves", async () => {
    const refused = await runCli(children, ["keys", "rotate", ...flags()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the signing keys in the store are sealed");
    const rotated = await runCli(children, ["keys", "rotate", ...flags()], {
      env: { BATON_KEY_SECRET: SECRET },
    });
    expect(rotated.code, rotated.stderr).toBe(0);
    const kid = /New signing key (\S+)\./.exec(rotated.stdout)?.[1];
    expect(kid).toBeDefined();
    for (const file of (await readdir(dir)).filter((f) => f.startsWith("b.db"))) {
      expect((await readFile(join(dir, file))).toString("latin1"), file).not.toMatch(/"d":"/);
    }
  });
});
