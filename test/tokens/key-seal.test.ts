/**
 * Signing keys sealed at rest (rule 9: no secrets at rest), on the real stores: a SQLite file
 * and a Redis of the test's own. With a key secret, the stored ring holds no private member in
 * the clear; without the secret, or with another, nothing opens and nothing is rewritten; a
 * plain ring is sealed when a secret is first given, keeping its kid; a rotation seals the new
 * key and drops the retired key's private half, which never signs again.
 */

import type { KeyObject } from "node:crypto";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { openKeyRing } from "../../src/tokens/key-ring.js";
import { rotateKeys } from "../../src/tokens/key-ring-admin.js";
import {
  createKeySealer,
  MIN_KEY_SECRET_LENGTH,
  SealedKeyError,
} from "../../src/tokens/key-seal.js";
import { signToken } from "../../src/tokens/mint.js";
import { T0 } from "../helpers/broker.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

const MAX_TTL = 3600;
const SECRET = randomBytes(32).toString("base64");
const OTHER = randomBytes(32).toString("base64");
/** A JWK private member, as JSON text: `d` for EdDSA and ES256 keys. */
const PRIVATE_MEMBER = /"d":"/;

interface StoredKey {
  kid: string;
  retiredAt?: number;
  privateJwk?: unknown;
  sealed?: { v: number; enc: string; ct: string };
}
const ringOf = async (store: Store) =>
  (await store.get<{ keys: StoredKey[] }>("keys:ring"))?.keys ?? [];

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "opened",
    (err) => (err instanceof SealedKeyError ? err.problem : String(err)),
  );

let redis: TestRedis;
let dir: string;
beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "baton-seal-"));
});
afterAll(async () => {
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
});

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

let fresh = 0;
const backends = {
  sqlite: () => `sqlite://${join(dir, `ring-${++fresh}.db`)}`,
  redis: () => `${redis.url}/${++fresh % 16}`,
};

describe.each(Object.entries(backends))("signing keys sealed at rest: %s", (_name, urlOf) => {
  const open = async (url: string) => {
    const store = await openKeyvStore(url);
    opened.push(store);
    return store;
  };

  it("with a key secret, no private member is stored in the clear; a restart signs with the same key", async () => {
    const url = urlOf();
    const store = await open(url);
    const ring = await openKeyRing(
      store,
      "EdDSA",
      fixedClock(T0),
      MAX_TTL,
      createKeySealer(SECRET),
    );
    const keys = await ringOf(store);
    expect(keys).toHaveLength(1);
    expect(keys[0]?.privateJwk).toBeUndefined();
    expect(keys[0]?.sealed).toMatchObject({ v: 1, enc: "A256GCM" });
    expect(JSON.stringify(keys)).not.toMatch(PRIVATE_MEMBER);

    // Tokens verify against the published key, and a second process with the secret signs
    // with the same key.
    const token = await signToken(ring, "at+jwt", { sub: "x", exp: T0 + 60 });
    const publicKey = ring.verificationKey(ring.signingKey().kid) as KeyObject;
    await expect(
      jwtVerify(token, publicKey, { currentDate: new Date(T0 * 1000) }),
    ).resolves.toBeTruthy();
    const again = await openKeyRing(
      await open(url),
      "EdDSA",
      fixedClock(T0),
      MAX_TTL,
      createKeySealer(SECRET),
    );
    expect(again.signingKey().kid).toBe(ring.signingKey().kid);
  });

  it("without the secret, or with another: refused, and the stored ring is left as it was", async () => {
    const url = urlOf();
    const store = await open(url);
    await openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL, createKeySealer(SECRET));
    const before = JSON.stringify(await ringOf(store));

    expect(await refusal(openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL))).toBe("missing");
    expect(
      await refusal(openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL, createKeySealer(OTHER))),
    ).toBe("wrong");
    // Nor can a process without the secret slip a plain key into a sealed ring.
    expect(await refusal(rotateKeys(store, "EdDSA", fixedClock(T0 + 1), MAX_TTL))).toBe("missing");
    expect(JSON.stringify(await ringOf(store))).toBe(before);
  });

  it("a plain ring is sealed when a secret is first given: same kid, earlier tokens still verify", async () => {
    const url = urlOf();
    const store = await open(url);
    const plain = await openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL);
    expect(JSON.stringify(await ringOf(store))).toMatch(PRIVATE_MEMBER);
    const earlier = await signToken(plain, "at+jwt", { sub: "x", exp: T0 + 60 });

    const sealed = await openKeyRing(
      store,
      "EdDSA",
      fixedClock(T0),
      MAX_TTL,
      createKeySealer(SECRET),
    );
    expect(sealed.signingKey().kid).toBe(plain.signingKey().kid);
    expect(JSON.stringify(await ringOf(store))).not.toMatch(PRIVATE_MEMBER);
    const publicKey = sealed.verificationKey(plain.signingKey().kid) as KeyObject;
    await expect(
      jwtVerify(earlier, publicKey, { currentDate: new Date(T0 * 1000) }),
    ).resolves.toBeTruthy();
  });

  it("a rotation seals the new key and keeps only the public half of the retired one", async () => {
    const url = urlOf();
    const store = await open(url);
    const sealer = createKeySealer(SECRET);
    const ring = await openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL, sealer);
    const old = ring.signingKey().kid;
    const { kid } = await rotateKeys(store, "EdDSA", fixedClock(T0 + 1), MAX_TTL, sealer);
    const keys = await ringOf(store);
    const retired = keys.find((k) => k.kid === old);
    expect(retired).toMatchObject({ retiredAt: T0 + 1 });
    expect(retired?.sealed).toBeUndefined();
    expect(retired?.privateJwk).toBeUndefined();
    expect(keys.find((k) => k.kid === kid)?.sealed).toMatchObject({ enc: "A256GCM" });
    // The retired key is still published, for the tokens it signed.
    await ring.reload();
    expect(ring.signingKey().kid).toBe(kid);
    expect(ring.verificationKey(old)).toBeDefined();
  });
});

describe("changing the key secret", () => {
  it("a rotation under the new secret: the new key opens with it only, the old key stays published", async () => {
    const store = await openKeyvStore("memory://");
    opened.push(store);
    const ring = await openKeyRing(
      store,
      "EdDSA",
      fixedClock(T0),
      MAX_TTL,
      createKeySealer(SECRET),
    );
    const old = ring.signingKey().kid;
    const { kid } = await rotateKeys(
      store,
      "EdDSA",
      fixedClock(T0 + 1),
      MAX_TTL,
      createKeySealer(OTHER),
    );
    const renewed = await openKeyRing(
      store,
      "EdDSA",
      fixedClock(T0 + 1),
      MAX_TTL,
      createKeySealer(OTHER),
    );
    expect(renewed.signingKey().kid).toBe(kid);
    expect(renewed.verificationKey(old)).toBeDefined();
    expect(
      await refusal(
        openKeyRing(store, "EdDSA", fixedClock(T0 + 1), MAX_TTL, createKeySealer(SECRET)),
      ),
    ).toBe("wrong");
    // A running node still on the old secret: it keeps signing with the key it holds (still
    // published) and learns the new public key, so tokens from updated nodes verify there.
    await ring.reload();
    expect(ring.signingKey().kid).toBe(old);
    expect(ring.verificationKey(kid)).toBeDefined();
    expect(ring.verificationKey(old)).toBeDefined();
  });
});

describe("the SQLite file itself", () => {
  it("holds no private member in the clear, in the database or its journal", async () => {
    const own = await mkdtemp(join(tmpdir(), "baton-seal-file-"));
    try {
      const store = await openKeyvStore(`sqlite://${join(own, "baton.db")}`);
      await openKeyRing(store, "EdDSA", fixedClock(T0), MAX_TTL, createKeySealer(SECRET));
      await rotateKeys(store, "ES256", fixedClock(T0 + 1), MAX_TTL, createKeySealer(SECRET));
      await store.close();
      const files = await readdir(own);
      expect(files).toContain("baton.db");
      for (const file of files) {
        const bytes = (await readFile(join(own, file))).toString("latin1");
        expect(bytes, file).not.toMatch(PRIVATE_MEMBER);
        expect(bytes, file).not.toContain(SECRET);
      }
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});

describe("the sealer", () => {
  it("refuses a secret shorter than 32 characters, without echoing it", () => {
    const short = "x".repeat(MIN_KEY_SECRET_LENGTH - 1);
    expect(() => createKeySealer(short)).toThrow(SealedKeyError);
    try {
      createKeySealer(short);
    } catch (err) {
      expect((err as SealedKeyError).problem).toBe("short");
      expect((err as Error).message).not.toContain(short);
    }
    expect(() => createKeySealer("x".repeat(MIN_KEY_SECRET_LENGTH))).not.toThrow();
  });

  it("binds a sealed key to its kid: moved under another kid, it does not open", () => {
    const sealer = createKeySealer(SECRET);
    const jwk = { kty: "OKP", crv: "Ed25519", x: "abc", d: "def" };
    const sealed = sealer.seal(jwk, "kid-1");
    expect(sealer.open(sealed, "kid-1")).toEqual(jwk);
    expect(() => sealer.open(sealed, "kid-2")).toThrow(SealedKeyError);
    // Each seal has its own salt and IV: the same key sealed twice looks different.
    expect(sealer.seal(jwk, "kid-1").ct).not.toBe(sealed.ct);
    // A flipped bit anywhere is refused (GCM's tag).
    const ct = Buffer.from(sealed.ct, "base64url");
    ct[0] = (ct[0] as number) ^ 1;
    expect(() => sealer.open({ ...sealed, ct: ct.toString("base64url") }, "kid-1")).toThrow(
      SealedKeyError,
    );
  });
});
