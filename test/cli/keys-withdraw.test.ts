/**
 * `baton keys withdraw KID` and `baton keys list` (issue 14 item 9), end to end: two real
 * `baton serve` processes on one SQLite store, behind one issuer, and the real CLI beside them.
 * A withdrawn key leaves both nodes' JWKS within the key refresh; every token it signed (an
 * access token at /introspect, a delegation token and a development token as subject tokens)
 * is dead on both nodes, including one a node had verified and cached before; the current key
 * is replaced, and what is signed after works. An unknown kid is exit 1, and a sealed ring
 * (BATON_KEY_SECRET) keeps working without a private half ever in the clear.
 */

import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/broker.js";
import {
  Children,
  runBaton,
  runCli,
  type Served,
  startServe,
  storeFlags,
} from "../helpers/cli-process.js";
import {
  type Answer,
  exchange,
  expectRefusal,
  issued,
  jwksKids,
  kidOf,
  readCalendar,
  USER,
} from "../helpers/nodes.js";

/** main/keep-current.ts KEY_REFRESH_MS: every node re-reads the ring this often. */
const REFRESH_MS = 5_000;
const CALENDAR_API = "calendar-api:calendar-api-secret";

const children = new Children();
afterAll(() => children.cleanup());

describe("baton keys withdraw: two nodes on one SQLite store", () => {
  let dir: string;
  let issuer: string;
  let a: Served;
  let b: Served;
  /** The CLI's flags: the served store and issuer, and an audit file of its own. */
  const cli = () => storeFlags(dir, { issuer, audit: join(dir, "audit-cli.jsonl") });
  const baton = (...args: string[]) => runBaton(children, [...args, ...cli()]);
  const devToken = async () => (await baton("dev-token", "--user", USER)).trim();
  /** `baton keys list` as { kid: "state  alg  published …" }. */
  const list = async () =>
    Object.fromEntries(
      (await baton("keys", "list"))
        .trim()
        .split("\n")
        .map((line) => {
          const [kid, ...rest] = line.split(/\s+/);
          return [kid as string, rest.join(" ")];
        }),
    );
  /** Every `exchange.issued` the nodes wrote so far. */
  const issuedCount = async () => {
    let count = 0;
    for (const node of ["A", "B"]) {
      const text = await readFile(join(dir, `audit-${node}.jsonl`), "utf8");
      count += text.split("\n").filter((l) => l.includes('"type":"exchange.issued"')).length;
    }
    return count;
  };
  /** Waits until every node's JWKS is `expected`; how long it took, in ms. */
  const converged = async (expected: string[]) => {
    const start = Date.now();
    const deadline = start + REFRESH_MS + 4_000;
    for (;;) {
      const seen = await Promise.all([a, b].map((n) => jwksKids(n.url)));
      if (seen.every((kids) => [...kids].sort().join() === [...expected].sort().join())) {
        return Date.now() - start;
      }
      if (Date.now() > deadline) throw new Error(`JWKS not converged: ${JSON.stringify(seen)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** RFC 7662 at a node as the calendar API's own client. */
  const introspect = async (url: string, token: string) => {
    const res = await fetch(`${url}/introspect`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(CALENDAR_API).toString("base64")}`,
      },
      body: new URLSearchParams({ token }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };
  /** A token exchange that must be refused as a bad subject token, with nothing issued. */
  const refusedAsSubject = async (answer: Promise<Answer>) => {
    const before = await issuedCount();
    expectRefusal(await answer, 400, "invalid_request");
    expect(await issuedCount(), "no token may be issued").toBe(before);
  };

  beforeAll(async () => {
    dir = await children.tempDir("baton-withdraw-");
    const [portA, portB] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portA}`;
    const node = (name: string, port: number) =>
      startServe(children, {
        port,
        args: storeFlags(dir, { issuer, audit: join(dir, `audit-${name}.jsonl`) }),
        env: { BATON_WATCH: "0" },
      });
    a = await node("A", portA);
    b = await node("B", portB);
  }, 120_000);

  it("withdrawing the current key: gone from both JWKS within the refresh, its tokens dead everywhere, a new key signs", async () => {
    const user = await devToken();
    const k1 = kidOf(user);
    const access = await issued(a.url, user, readCalendar);
    const delegation = await issued(a.url, user, {
      requested_token_type: "urn:ietf:params:oauth:token-type:jwt",
      audience: "flight-booker",
      scope: "flights.search",
    });
    expect([kidOf(access), kidOf(delegation)]).toEqual([k1, k1]);
    const flights = { audience: "flights", scope: "flights.search" };
    // Node B verifies (and caches) the delegation token and the user's token before.
    await issued(b.url, delegation, flights, "flight-booker");
    await issued(b.url, user, readCalendar);
    for (const node of [a, b]) {
      expect(await introspect(node.url, access)).toMatchObject({ active: true });
    }
    expect(await list()).toEqual({ [k1]: "current EdDSA published while it signs" });

    const out = await baton("keys", "withdraw", k1);
    const k2 = /^New signing key (\S+) signs in its place\.$/m.exec(out)?.[1] as string;
    expect(out).toBe(
      `Withdrew key ${k1}. Every node on this store drops it from its JWKS and refuses every token it signed within 5s.\n` +
        `New signing key ${k2} signs in its place.\n`,
    );
    expect(k2).not.toBe(k1);
    const listed = await list();
    expect(listed[k2]).toBe("current EdDSA published while it signs");
    expect(listed[k1]).toMatch(
      /^withdrawn EdDSA not published: withdrawn \d{4}-\d\d-\d\dT[\d:]{8}Z$/,
    );

    // Within the refresh interval, on both nodes.
    expect(await converged([k2])).toBeLessThanOrEqual(REFRESH_MS + 4_000);
    for (const node of [a, b]) {
      expect(await introspect(node.url, access)).toEqual({ active: false });
      await refusedAsSubject(exchange(node.url, delegation, flights, "flight-booker"));
      await refusedAsSubject(exchange(node.url, user, readCalendar));
    }

    // What is signed now uses the new key, and works on both nodes.
    const fresh = await devToken();
    expect(kidOf(fresh)).toBe(k2);
    for (const node of [a, b]) {
      const token = await issued(node.url, fresh, readCalendar);
      expect(kidOf(token)).toBe(k2);
      expect(await introspect(node.url, token)).toMatchObject({ active: true });
    }

    const audit = (await readFile(join(dir, "audit-cli.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audit.filter((e) => e.type === "key.withdrawn")).toEqual([
      expect.objectContaining({ type: "key.withdrawn", kid: k1, replaced_by: k2 }),
    ]);
    for (const node of ["A", "B"]) {
      const lines = await readFile(join(dir, `audit-${node}.jsonl`), "utf8");
      expect(lines).toMatch(/"type":"exchange.denied".*"rule":"subject.kid"/);
    }
  }, 120_000);

  it("withdrawing a retired key; keys list shows current, retired (until when), withdrawn", async () => {
    const started = Math.floor(Date.now() / 1000);
    const rotated = await baton("keys", "rotate");
    const ended = Math.ceil(Date.now() / 1000);
    const [, k3, k2] =
      /^New signing key (\S+)\. (\S+) stays published for 3605s/.exec(rotated) ?? [];
    const listed = await list();
    expect(listed[k3 as string]).toBe("current EdDSA published while it signs");
    const until = /^retired EdDSA published until (\S+)$/.exec(listed[k2 as string] ?? "")?.[1];
    // max_ttl (1h in the demo policy) + the 5 s key refresh after the rotation.
    const publishUntil = Date.parse(until as string) / 1000;
    expect(publishUntil).toBeGreaterThanOrEqual(started + 3605);
    expect(publishUntil).toBeLessThanOrEqual(ended + 3605);
    await converged([k2 as string, k3 as string]);

    const out = await baton("keys", "withdraw", k2 as string);
    expect(out).toBe(
      `Withdrew key ${k2}. Every node on this store drops it from its JWKS and refuses every token it signed within 5s.\n`,
    );
    const after = await list();
    expect(after[k2 as string]).toMatch(/^withdrawn /);
    expect(after[k3 as string]).toBe("current EdDSA published while it signs");
    await converged([k3 as string]);
  }, 120_000);

  it("an unknown kid: exit 1 with a clear message, nothing changed; a kid withdrawn before: said so", async () => {
    const before = await baton("keys", "list");
    const withdrawn = /^(\S+)\s+withdrawn /m.exec(before)?.[1] as string;
    const unknown = await runCli(children, ["keys", "withdraw", "no-such-kid", ...cli()]);
    expect(unknown).toEqual({
      code: 1,
      stdout: "",
      stderr: 'baton: no key "no-such-kid" in the key ring (baton keys list shows them)\n',
    });

    const again = await baton("keys", "withdraw", withdrawn);
    expect(again).toBe(`Key ${withdrawn} was withdrawn before; nothing changed.\n`);
    expect(await baton("keys", "list")).toBe(before);
    const audit = await readFile(join(dir, "audit-cli.jsonl"), "utf8");
    expect(audit.match(/"key.withdrawn"/g)).toHaveLength(2);
  }, 120_000);
});

describe("baton keys withdraw on a sealed ring (BATON_KEY_SECRET)", () => {
  const SECRET = randomBytes(32).toString("base64");

  it("needs the secret to replace the current key, seals the new one, and never prints key material", async () => {
    const dir = await children.tempDir("baton-withdraw-sealed-");
    const flags = storeFlags(dir);
    const sealed = { env: { BATON_KEY_SECRET: SECRET } };
    const minted = await runCli(children, ["dev-token", "--user", USER, ...flags], sealed);
    expect(minted.code, minted.stderr).toBe(0);
    const k1 = kidOf(minted.stdout.trim());

    // `keys list` reads public facts only: no secret needed.
    const listed = await runCli(children, ["keys", "list", ...flags]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${k1}\\s+current `));

    const refused = await runCli(children, ["keys", "withdraw", k1, ...flags]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("the signing keys in the store are sealed");

    const done = await runCli(children, ["keys", "withdraw", k1, ...flags], sealed);
    expect(done.code, done.stderr).toBe(0);
    const k2 = /New signing key (\S+) signs in its place/.exec(done.stdout)?.[1];
    expect(k2).toBeDefined();
    const after = await runCli(children, ["dev-token", "--user", USER, ...flags], sealed);
    expect(after.code, after.stderr).toBe(0);
    expect(kidOf(after.stdout.trim())).toBe(k2);

    const audit = await readFile(join(dir, "audit.jsonl"), "utf8");
    for (const text of [done.stdout, done.stderr, refused.stderr, audit]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toMatch(/"d":"/);
    }
    for (const file of (await readdir(dir)).filter((f) => f.startsWith("b.db"))) {
      const bytes = (await readFile(join(dir, file))).toString("latin1");
      expect(bytes, file).not.toMatch(/"d":"/);
      expect(bytes, file).not.toContain(SECRET);
    }
  }, 120_000);
});
