/**
 * The Redis adapter (issue 6): the store contract against a real `redis-server` of the suite's
 * own, on the contract's fixed clock, then what only Redis has: native expiry (the one test on
 * real time: Redis drops keys by its own clock), atomicity across connections, and failing
 * closed and fast when Redis dies, hangs or returns.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import {
  CONTRACT_T0,
  eventually,
  expectStoreUnavailable,
  storeContract,
} from "../contract/store.contract.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let opens = 0;
storeContract(
  "redis://",
  (clock) => openKeyvStore(redis.url, { namespace: `t${++opens}`, clock }),
  {
    openNamespaces: async (a, b, clock) => {
      const db = `${redis.url}/${(++opens % 15) + 1}`;
      return [
        await openKeyvStore(db, { namespace: a, clock }),
        await openKeyvStore(db, { namespace: b, clock }),
      ];
    },
  },
);

describe("openKeyvStore: redis://", () => {
  const opened: Store[] = [];
  const open = async (url = redis.url, timeoutMs?: number) => {
    const store = await openKeyvStore(url, {
      namespace: `r${++opens}`,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  // Real time, on purpose and short: Redis expires the key itself (PX), by its own clock. The
  // store's clock stands still here, so only Redis can make the record go. The store's own
  // reading of expiry is the contract's, on a moving fixed clock.
  it("gives a record Redis' own expiry, so add can take the key once it has run out", async () => {
    const store = await openKeyvStore(redis.url, {
      namespace: `r${++opens}`,
      clock: fixedClock(CONTRACT_T0),
    });
    opened.push(store);
    expect(await store.add("jti", "first", 40)).toBe(true);
    expect(await store.add("jti", "second", 40)).toBe(false);
    await eventually(async () => (await store.get("jti")) === undefined);
    expect(await store.add("jti", "third", 1_000)).toBe(true);
    expect(await store.get("jti")).toBe("third");
  });

  it("keeps a counter's expiry through increments, and an exact millisecond timestamp", async () => {
    const store = await open();
    expect(await store.increment("budget", 60_000)).toBe(1);
    expect(await store.increment("budget", 60_000)).toBe(2);
    await store.set("big", Number.MAX_SAFE_INTEGER - 2);
    expect(await store.increment("big")).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(await store.increment("big")).toBe(Number.MAX_SAFE_INTEGER);
    await expect(store.increment("big")).rejects.toBeInstanceOf(TypeError);
    expect(await store.get("big")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("two connections racing: add has one winner, increment hands out each value once", async () => {
    // Both name the same namespace: each store reads the other's rows.
    const shared = await openKeyvStore(redis.url, { namespace: "shared-race" });
    const other = await openKeyvStore(redis.url, { namespace: "shared-race" });
    opened.push(shared, other);
    const adds = await Promise.all(
      Array.from({ length: 50 }, (_, n) => (n % 2 ? shared : other).add("jti", n, 10_000)),
    );
    expect(adds.filter(Boolean)).toHaveLength(1);
    const counts = await Promise.all(
      Array.from({ length: 100 }, (_, n) => (n % 2 ? shared : other).increment("n", 10_000)),
    );
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const takes = await Promise.all([shared.delete("jti"), other.delete("jti")]);
    expect(takes.filter(Boolean)).toHaveLength(1);
  });

  it("refuses to open when Redis does not answer, naming the setting and never the password", async () => {
    const dead = await startRedis();
    const url = `redis://:hunter2@127.0.0.1:${dead.port}`;
    await dead.stop();
    const started = Date.now();
    const failure = await openKeyvStore(url, { timeoutMs: 300 }).catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(failure).toMatchObject({ code: "temporarily_unavailable", status: 503 });
    const cause = (failure as { cause: Error }).cause;
    expect(cause.message).toMatch(/^--store: cannot connect to redis:\/\/127\.0\.0\.1:/);
    expect(cause.message).not.toContain("hunter2");
  });

  describe("faults", () => {
    let own: TestRedis;
    afterEach(async () => {
      await own?.stop();
    });

    it("fails closed within the deadline when Redis is killed, and recovers when it returns", async () => {
      own = await startRedis();
      const store = await open(own.url, 300);
      await store.set("k", "v");
      await own.kill();
      for (const operation of [
        () => store.get("k"),
        () => store.getMany(["k"]),
        () => store.set("k", "w"),
        () => store.add("once", 1),
        () => store.increment("n"),
        () => store.delete("k"),
      ]) {
        const started = Date.now();
        await expectStoreUnavailable(operation());
        expect(Date.now() - started).toBeLessThan(1_000);
      }
      await own.restart();
      // No new store: the same client reconnects by itself.
      await eventually(async () => {
        try {
          await store.set("k", "back");
          return true;
        } catch {
          return false;
        }
      }, 5_000);
      expect(await store.get("k")).toBe("back");
    });

    it("fails closed within the deadline when Redis hangs, and recovers when it answers", async () => {
      own = await startRedis();
      const store = await open(own.url, 300);
      await store.set("k", "v");
      own.pause();
      const started = Date.now();
      await expectStoreUnavailable(store.get("k"));
      expect(Date.now() - started).toBeLessThan(1_000);
      own.resume();
      await eventually(async () => {
        try {
          return (await store.get("k")) === "v";
        } catch {
          return false;
        }
      }, 5_000);
    });
  });
});
