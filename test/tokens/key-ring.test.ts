/**
 * Signing keys (issue 2 item 3): made at first start and kept in the store, one current key
 * with a kid, public members only in the JWKS, and a rotated-out key published until the
 * last token it signed has expired, plus the key refresh (issue 14 item 12b). Emergency
 * withdrawal (issue 14 item 9): a withdrawn kid leaves the ring at once, on every process of
 * the store once it has re-read the ring, the current key is replaced in the same write, and
 * the kid never comes back.
 */

import { type KeyObject, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { openKeyRing } from "../../src/tokens/key-ring.js";
import {
  listKeys,
  rotateKeys,
  UnknownKeyError,
  withdrawKey,
} from "../../src/tokens/key-ring-admin.js";
import { createKeySealer, SealedKeyError } from "../../src/tokens/key-seal.js";
import { signToken } from "../../src/tokens/mint.js";
import { kidFor } from "../../src/tokens/stored-ring.js";
import { startTestBroker, T0 } from "../helpers/broker.js";

const MAX_TTL = 3600;
/** main/keep-current.ts KEY_REFRESH_MS: how long a node may go on signing with a key after its rotation. */
const REFRESH = 5;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

let store: Store;
afterEach(() => store.close());

describe("key ring", () => {
  it("makes one EdDSA key at first start, with a kid, and publishes public members only", async () => {
    store = await openKeyvStore("memory://");
    const ring = await openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL);
    const { keys } = ring.jwks();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      kty: "OKP",
      crv: "Ed25519",
      alg: "EdDSA",
      use: "sig",
      kid: ring.signingKey().kid,
    });
    for (const member of PRIVATE_MEMBERS) expect(keys[0]).not.toHaveProperty(member);
  });

  it("a kid never begins with '-', so `baton keys withdraw KID` never reads it as an option", async () => {
    // A base64url thumbprint may begin with "-" (1 key in 64): the random hex tag goes first.
    expect(kidFor("-KEYSz8XQNlqmGNHi4nA3zG", "8fa6c2ba")).toBe("8fa6c2ba.-KEYSz8XQNlqmGNHi4nA3zG");
    store = await openKeyvStore("memory://");
    const ring = await openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL);
    expect(ring.signingKey().kid).toMatch(/^[0-9a-f]{8}\.[A-Za-z0-9_-]{43}$/);
  });

  it("makes an ES256 key when the policy asks for it", async () => {
    store = await openKeyvStore("memory://");
    const ring = await openKeyRing(store, "ES256", fixedClock(T0), MAX_TTL);
    const token = await signToken(ring, "at+jwt", { sub: "x" });
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: "ES256",
      kid: ring.signingKey().kid,
    });
    expect(ring.jwks().keys[0]).toMatchObject({ kty: "EC", crv: "P-256" });
  });

  it("keeps its keys in the store: a second opening (a restart, another process) signs with the same key", async () => {
    store = await openKeyvStore("memory://");
    const clock = fixedClock(T0);
    const [a, b] = await Promise.all([
      openKeyRing(store, "EdDSA", clock, MAX_TTL),
      openKeyRing(store, "EdDSA", clock, MAX_TTL),
    ]);
    const c = await openKeyRing(store, "EdDSA", clock, MAX_TTL);
    expect(b.signingKey().kid).toBe(a.signingKey().kid);
    expect(c.signingKey().kid).toBe(a.signingKey().kid);
  });

  it("keeps a rotated-out key published until max_ttl + the key refresh after the rotation, then drops it", async () => {
    store = await openKeyvStore("memory://");
    const clock = fixedClock(T0);
    const ring = await openKeyRing(store, "EdDSA", clock, MAX_TTL);
    const old = ring.signingKey().kid;
    const oldToken = await signToken(ring, "at+jwt", { sub: "x", exp: T0 + MAX_TTL });

    const { kid, previous } = await rotateKeys(store, "EdDSA", clock, MAX_TTL);
    expect(previous).toBe(old);
    await ring.reload();
    expect(ring.signingKey().kid).toBe(kid);
    expect(
      ring
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual([kid, old].sort());
    // A token the old key signed still verifies against the published key.
    const key = ring.verificationKey(old);
    expect(key).toBeDefined();
    await expect(
      jwtVerify(oldToken, key as KeyObject, { currentDate: new Date(T0 * 1000) }),
    ).resolves.toBeTruthy();

    // Issue 14 item 12b: a node that has not re-read the ring yet signs with the old key for up
    // to the refresh interval after the rotation; the last such token lives max_ttl longer.
    const stored = await store.get<{ keys: { kid: string; publishUntil?: number }[] }>("keys:ring");
    expect(stored?.keys.find((k) => k.kid === old)?.publishUntil).toBe(T0 + MAX_TTL + REFRESH);

    clock.advance(MAX_TTL + REFRESH - 1);
    await ring.reload();
    expect(ring.verificationKey(old)).toBeDefined();
    expect(ring.jwks().keys.map((k) => k.kid)).toContain(old);

    clock.advance(1);
    await ring.reload();
    expect(ring.verificationKey(old)).toBeUndefined();
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([kid]);
  });

  it("serves a rotated-out key in the JWKS until max_ttl + the key refresh, not a second longer", async () => {
    const broker = await startTestBroker();
    store = await openKeyvStore("memory://"); // for the suite's afterEach
    try {
      const old = broker.deps.keys.signingKey().kid;
      const { kid } = await rotateKeys(broker.store, "EdDSA", broker.clock, MAX_TTL);
      const kidsAt = async (t: number) => {
        broker.clock.advance(t - broker.clock.now());
        await broker.deps.keys.reload();
        const res = await fetch(`${broker.url}/.well-known/jwks.json`);
        expect(res.status).toBe(200);
        return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
      };
      expect(await kidsAt(T0 + MAX_TTL)).toEqual([kid, old].sort());
      expect(await kidsAt(T0 + MAX_TTL + REFRESH - 1)).toEqual([kid, old].sort());
      expect(await kidsAt(T0 + MAX_TTL + REFRESH)).toEqual([kid]);
    } finally {
      await broker.close();
    }
  });

  it("rotates to the policy's algorithm when it changes, keeping the old key published", async () => {
    store = await openKeyvStore("memory://");
    const clock = fixedClock(T0);
    const eddsa = await openKeyRing(store, "EdDSA", clock, MAX_TTL);
    const es256 = await openKeyRing(store, "ES256", clock, MAX_TTL);
    expect(es256.signingKey().alg).toBe("ES256");
    expect(es256.verificationKey(eddsa.signingKey().kid)).toBeDefined();
  });

  it("finds a key made by another process when a token names an unknown kid", async () => {
    store = await openKeyvStore("memory://");
    const clock = fixedClock(T0);
    const ring = await openKeyRing(store, "EdDSA", clock, MAX_TTL);
    const { kid } = await rotateKeys(store, "EdDSA", clock, MAX_TTL);
    expect(ring.verificationKey(kid)).toBeUndefined();
    clock.advance(10); // past the reload cooldown
    expect(await ring.findVerificationKey(kid)).toBeDefined();
  });
});

describe("key ring: rotations across processes take turns", () => {
  let dir = "";
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  /** Two connections to one SQLite file: two processes sharing a store. */
  const twoProcesses = async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-ring-"));
    const url = `sqlite://${join(dir, "baton.db")}`;
    const a = await openKeyvStore(url);
    const b = await openKeyvStore(url);
    opened.push(a, b);
    store = await openKeyvStore("memory://"); // for the suite's afterEach
    return [a, b] as const;
  };
  const ringOf = async (s: Store) =>
    (await s.get<{ keys: { kid: string; alg: string; retiredAt?: number }[] }>("keys:ring"))
      ?.keys ?? [];

  it("two `baton keys rotate` at once: both new keys are kept, one of them current", async () => {
    const [a, b] = await twoProcesses();
    const first = (await openKeyRing(a, "EdDSA", fixedClock(T0), MAX_TTL)).signingKey().kid;
    const [x, y] = await Promise.all([
      rotateKeys(a, "EdDSA", fixedClock(T0 + 1), MAX_TTL),
      rotateKeys(b, "EdDSA", fixedClock(T0 + 1), MAX_TTL),
    ]);
    const keys = await ringOf(a);
    expect(keys.map((k) => k.kid).sort()).toEqual([first, x.kid, y.kid].sort());
    expect(keys.filter((k) => k.retiredAt === undefined)).toHaveLength(1);
    // They took turns: one rotated from the first key, the other from the one made before it.
    const [earlier, later] = x.previous === first ? [x, y] : [y, x];
    expect(earlier.previous).toBe(first);
    expect(later.previous).toBe(earlier.kid);
  });

  it("two nodes starting together on a new signing_alg rotate once and sign with the same key", async () => {
    const [a, b] = await twoProcesses();
    await openKeyRing(a, "EdDSA", fixedClock(T0), MAX_TTL);
    const [ra, rb] = await Promise.all([
      openKeyRing(a, "ES256", fixedClock(T0 + 1), MAX_TTL),
      openKeyRing(b, "ES256", fixedClock(T0 + 1), MAX_TTL),
    ]);
    expect(ra.signingKey().kid).toBe(rb.signingKey().kid);
    expect((await ringOf(a)).map((k) => k.alg)).toEqual(["EdDSA", "ES256"]);
  });
});

describe("key ring: emergency withdrawal (issue 14 item 9)", () => {
  let dir = "";
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = "";
  });
  /** Two connections to one SQLite file: a serving node and `baton keys withdraw`. */
  const nodeAndCli = async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-withdraw-"));
    const url = `sqlite://${join(dir, "baton.db")}`;
    const node = await openKeyvStore(url);
    const cli = await openKeyvStore(url);
    opened.push(node, cli);
    store = await openKeyvStore("memory://"); // for the suite's afterEach
    return [node, cli] as const;
  };
  const storedRing = (s: Store) =>
    s.get<{
      keys: { kid: string; privateJwk?: unknown; sealed?: unknown }[];
      withdrawn?: { kid: string }[];
    }>("keys:ring");
  const kids = (ring: { jwks(): { keys: { kid?: string }[] } }) =>
    ring.jwks().keys.map((k) => k.kid);

  it("withdraws a retired key: out of the JWKS and unverifiable once a node re-reads the ring", async () => {
    const [node, cli] = await nodeAndCli();
    const clock = fixedClock(T0);
    const ring = await openKeyRing(node, "EdDSA", clock, MAX_TTL);
    const old = ring.signingKey().kid;
    const { kid: current } = await rotateKeys(cli, "EdDSA", clock, MAX_TTL);
    await ring.reload();
    expect(kids(ring).sort()).toEqual([old, current].sort());

    const done = await withdrawKey(cli, old, "EdDSA", clock);
    expect(done).toEqual({ kid: old, already: false });
    // Until it re-reads the ring (within the refresh interval), the node still knows the key.
    expect(ring.verificationKey(old)).toBeDefined();
    await ring.reload();
    expect(kids(ring)).toEqual([current]);
    expect(ring.verificationKey(old)).toBeUndefined();
    expect(ring.signingKey().kid).toBe(current);
    // An unknown kid re-reads the store: the withdrawn kid is not found there either.
    clock.advance(10);
    expect(await ring.findVerificationKey(old)).toBeUndefined();
    expect(await listKeys(cli, clock)).toEqual([
      { kid: current, alg: "EdDSA", state: "current" },
      { kid: old, alg: "EdDSA", state: "withdrawn", withdrawnAt: T0 },
    ]);
  });

  it("withdraws the current key: a new current key is in place in the same write, and signs", async () => {
    const [node, cli] = await nodeAndCli();
    const clock = fixedClock(T0);
    const ring = await openKeyRing(node, "EdDSA", clock, MAX_TTL);
    const old = ring.signingKey().kid;

    const { replacedBy, already } = await withdrawKey(cli, old, "EdDSA", clock);
    expect(already).toBe(false);
    expect(replacedBy).toEqual(expect.any(String));
    expect(replacedBy).not.toBe(old);
    // One write: the stored ring has the new current key and no trace of the old one's keys.
    const stored = await storedRing(cli);
    expect(stored?.keys.map((k) => k.kid)).toEqual([replacedBy]);
    expect(stored?.withdrawn?.map((w) => w.kid)).toEqual([old]);

    await ring.reload();
    expect(ring.signingKey().kid).toBe(replacedBy);
    expect(kids(ring)).toEqual([replacedBy]);
    const token = await signToken(ring, "at+jwt", { sub: "x", exp: T0 + 60 });
    expect(decodeProtectedHeader(token).kid).toBe(replacedBy);
    // Another process that opens the store now never sees the withdrawn key.
    const fresh = await openKeyRing(cli, "EdDSA", clock, MAX_TTL);
    expect(fresh.signingKey().kid).toBe(replacedBy);
    expect(fresh.verificationKey(old)).toBeUndefined();
  });

  it("an unknown kid is an error and changes nothing; a kid withdrawn before is said so", async () => {
    const [node, cli] = await nodeAndCli();
    const clock = fixedClock(T0);
    const ring = await openKeyRing(node, "EdDSA", clock, MAX_TTL);
    const before = await storedRing(cli);
    await expect(withdrawKey(cli, "no-such-kid", "EdDSA", clock)).rejects.toThrow(
      new UnknownKeyError("no-such-kid"),
    );
    expect(await storedRing(cli)).toEqual(before);

    const old = ring.signingKey().kid;
    const first = await withdrawKey(cli, old, "EdDSA", clock);
    const after = await storedRing(cli);
    expect(await withdrawKey(cli, old, "EdDSA", clock)).toEqual({ kid: old, already: true });
    expect(await storedRing(cli)).toEqual(after);
    expect(after?.keys.map((k) => k.kid)).toEqual([first.replacedBy]);
  });

  it("a withdrawn kid never comes back: not by a rotation, nor by a writer that puts it back", async () => {
    const [node, cli] = await nodeAndCli();
    const clock = fixedClock(T0);
    const ring = await openKeyRing(node, "EdDSA", clock, MAX_TTL);
    const old = ring.signingKey().kid;
    const { kid: second } = await rotateKeys(cli, "EdDSA", clock, MAX_TTL);
    await withdrawKey(cli, old, "EdDSA", clock);
    const { kid: third } = await rotateKeys(cli, "EdDSA", clock, MAX_TTL);
    await ring.reload();
    expect(kids(ring).sort()).toEqual([second, third].sort());
    const stored = await storedRing(cli);
    expect(stored?.withdrawn?.map((w) => w.kid)).toEqual([old]);

    // A stale copy of the ring written back (a restored backup, an old process): the key
    // material is there again, but its kid is remembered as withdrawn.
    const stale = await cli.get<{ keys: Record<string, unknown>[] }>("keys:ring");
    const { kid: _k, ...oldKey } = (stale?.keys[0] ?? {}) as { kid: string };
    const revived = {
      ...stale,
      keys: [{ ...oldKey, kid: old, publishUntil: T0 + 99_999 }, ...(stale?.keys ?? [])],
    };
    await cli.set("keys:ring", revived);
    await ring.reload();
    expect(ring.verificationKey(old)).toBeUndefined();
    expect(kids(ring)).not.toContain(old);
  });

  it("a sealed ring: the replacement is sealed; without the secret the current key cannot be withdrawn, a retired one can", async () => {
    const [node, cli] = await nodeAndCli();
    const clock = fixedClock(T0);
    const secret = randomBytes(32).toString("base64");
    const ring = await openKeyRing(node, "EdDSA", clock, MAX_TTL, createKeySealer(secret));
    const first = ring.signingKey().kid;
    const { kid: second } = await rotateKeys(cli, "EdDSA", clock, MAX_TTL, createKeySealer(secret));

    await expect(withdrawKey(cli, second, "EdDSA", clock)).rejects.toThrow(SealedKeyError);
    expect((await listKeys(cli, clock)).find((k) => k.kid === second)?.state).toBe("current");
    // A retired key has no private half left: withdrawing it writes no key, so needs no secret.
    expect((await withdrawKey(cli, first, "EdDSA", clock)).already).toBe(false);

    const { replacedBy } = await withdrawKey(cli, second, "EdDSA", clock, createKeySealer(secret));
    const stored = await storedRing(cli);
    expect(stored?.keys).toHaveLength(1);
    expect(stored?.keys[0]).toMatchObject({ kid: replacedBy, sealed: expect.any(Object) });
    expect(stored?.keys[0]?.privateJwk).toBeUndefined();
    await ring.reload();
    expect(ring.signingKey().kid).toBe(replacedBy);
    await store.close();
    for (const s of opened.splice(0)) await s.close();
    for (const file of await readdir(dir)) {
      const bytes = (await readFile(join(dir, file))).toString("latin1");
      expect(bytes, file).not.toMatch(/"d":"/);
      expect(bytes, file).not.toContain(secret);
    }
    store = await openKeyvStore("memory://");
  });

  it("a node still on an old key secret, holding the withdrawn key, stops signing and verifying with it", async () => {
    const [node, cli] = await nodeAndCli();
    const clock = fixedClock(T0);
    const oldSecret = createKeySealer(randomBytes(32).toString("base64"));
    const newSecret = createKeySealer(randomBytes(32).toString("base64"));
    const ring = await openKeyRing(node, "EdDSA", clock, MAX_TTL, oldSecret);
    const held = ring.signingKey().kid;
    // The secret is being changed: the node cannot open the new key, and goes on with its own.
    const { kid: current } = await rotateKeys(cli, "EdDSA", clock, MAX_TTL, newSecret);
    await ring.reload();
    expect(ring.signingKey().kid).toBe(held);

    await withdrawKey(cli, held, "EdDSA", clock);
    await ring.reload();
    expect(() => ring.signingKey()).toThrow(SealedKeyError);
    expect(() => signToken(ring, "at+jwt", { sub: "x" })).toThrow(SealedKeyError);
    expect(ring.verificationKey(held)).toBeUndefined();
    expect(kids(ring)).toEqual([current]);
  });
});
