/**
 * Signing keys (issue 2 item 3): made at first start and kept in the store, one current key
 * with a kid, public members only in the JWKS, and a rotated-out key published until the
 * last token it signed has expired.
 */

import type { KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { openKeyRing, rotateKeys } from "../../src/tokens/key-ring.js";
import { signToken } from "../../src/tokens/mint.js";
import { T0 } from "../helpers/broker.js";

const MAX_TTL = 3600;
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

  it("keeps a rotated-out key published until max_ttl after the rotation, then drops it", async () => {
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

    clock.advance(MAX_TTL - 1);
    await ring.reload();
    expect(ring.verificationKey(old)).toBeDefined();

    clock.advance(2);
    await ring.reload();
    expect(ring.verificationKey(old)).toBeUndefined();
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([kid]);
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
