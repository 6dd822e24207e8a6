/**
 * The contract every store adapter passes (design §7): call `storeContract` from the adapter's
 * test file with a function that opens a fresh, empty store on the clock it is given.
 *
 * Time is an argument (design §7): each test has its own fixed clock and moves it, so expiry is
 * checked to the millisecond (readable at its TTL, gone one millisecond later) with no sleeps.
 * TTLs are minutes long, so that a backend that also expires keys by its own real clock (Redis'
 * `PX`) never drops one while a test runs.
 *
 * @module test/contract/store.contract
 */

import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { BatonError } from "../../src/errors.js";
import type { Store } from "../../src/store/store.js";

/** The clock a contract test runs on: it moves only when the test moves it. */
export type TestClock = ReturnType<typeof fixedClock>;

/** The contract's clock starts here: 2026-11-26T12:00:00Z, in seconds. */
export const CONTRACT_T0 = 1_795_694_400;

export interface StoreContractOptions {
  /**
   * Opens two stores on one backend under namespaces `a` and `b`. Omit it when the adapter
   * cannot share a backend between namespaces (e.g. one Map per store).
   */
  openNamespaces?: (a: string, b: string, clock: TestClock) => Promise<[Store, Store]>;
}

/** Asserts the fail-closed answer (design §4 rule 8): a 503 BatonError, not a value. */
export async function expectStoreUnavailable(pending: Promise<unknown>): Promise<void> {
  const outcome = await pending.then(
    (value) => ({ resolved: value }),
    (error: unknown) => ({ rejected: error }),
  );
  expect(outcome).toHaveProperty("rejected");
  const error = (outcome as { rejected: unknown }).rejected;
  expect(error).toBeInstanceOf(BatonError);
  expect(error).toMatchObject({ code: "temporarily_unavailable", status: 503 });
}

/**
 * Polls `check` until it holds; fails after `timeoutMs`. For what happens on real time by
 * nature (a sweep on its timer, Redis' own expiry, a server coming back), never for a TTL the
 * store checks: move the clock instead.
 */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition still false after ${timeoutMs} ms`);
    await sleep(10);
  }
}

const NESTED = {
  id: "appr_1",
  chain: [{ sub: "agent:planner" }, { sub: "agent:mailer", act: { sub: "agent:planner" } }],
  scopes: ["mail.send", "calendar.read"],
  count: 3,
  ratio: 0.25,
  ok: true,
  none: null,
  empty: { list: [], text: "" },
  // keyv's default serializer escapes these; they must come back as written.
  colon: ":leading colon",
  base64: ":base64:aGVsbG8=",
  unicode: "délégation ✓",
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export function storeContract(
  name: string,
  open: (clock: TestClock) => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  describe(`store contract: ${name}`, () => {
    const opened: Store[] = [];
    let store: Store;
    let clock: TestClock;
    /** Moves the store's clock by `ms` milliseconds. */
    const pass = (ms: number) => clock.advance(ms / 1000);

    const track = (...stores: Store[]) => {
      opened.push(...stores);
      return stores;
    };

    beforeEach(async () => {
      clock = fixedClock(CONTRACT_T0);
      [store] = track(await open(clock)) as [Store];
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe("get and set", () => {
      it("get of a missing key is undefined", async () => {
        expect(await store.get("missing")).toBeUndefined();
      });

      it("round-trips nested JSON", async () => {
        await store.set("nested", NESTED);
        expect(await store.get("nested")).toEqual(NESTED);
      });

      it("round-trips falsy values as values, not as absence", async () => {
        const values = { null: null, zero: 0, false: false, empty: "", list: [] };
        for (const [key, value] of Object.entries(values)) await store.set(key, value);
        for (const [key, value] of Object.entries(values))
          expect(await store.get(key)).toEqual(value);
      });

      it("set overwrites the value and the TTL", async () => {
        await store.set("k", "first", MINUTE);
        await store.set("k", "second");
        pass(HOUR);
        expect(await store.get("k")).toBe("second");
        await store.set("k", "third", MINUTE);
        pass(MINUTE + 1);
        expect(await store.get("k")).toBeUndefined();
      });

      it("treats keys as opaque strings: prefixes and colons do not collide", async () => {
        const keys = ["k", "a:k", "keyv:k", "baton:k", ":k", "k:"];
        await Promise.all(keys.map((key) => store.set(key, key)));
        expect(await Promise.all(keys.map((key) => store.get(key)))).toEqual(keys);
        expect(await store.getMany(keys)).toEqual(keys);
      });
    });

    describe("getMany", () => {
      it("returns values in the order of the keys, undefined where missing", async () => {
        await store.set("a", 1);
        await store.set("c", { three: 3 });
        expect(await store.getMany(["c", "missing", "a", "c"])).toEqual([
          { three: 3 },
          undefined,
          1,
          { three: 3 },
        ]);
      });

      it("of no keys is an empty list", async () => {
        expect(await store.getMany([])).toEqual([]);
      });
    });

    describe("TTL", () => {
      it("a value set with a TTL is readable until the TTL has passed, and gone 1 ms later", async () => {
        await store.set("short", "v", MINUTE);
        expect(await store.get("short")).toBe("v");
        pass(MINUTE);
        expect(await store.get("short")).toBe("v");
        pass(1);
        expect(await store.get("short")).toBeUndefined();
      });

      it("a TTL counts in milliseconds, not whole seconds", async () => {
        await store.set("k", "v", MINUTE + 150);
        pass(MINUTE + 150);
        expect(await store.get("k")).toBe("v");
        pass(1); // still the same second: a store that read whole seconds would keep it
        expect(await store.get("k")).toBeUndefined();
      });

      it("a value set without a TTL persists while one with a TTL expires", async () => {
        await store.set("forever", "stays");
        await store.set("brief", "goes", MINUTE);
        pass(10 * 365 * 24 * HOUR);
        expect(await store.get("brief")).toBeUndefined();
        expect(await store.get("forever")).toBe("stays");
      });

      it("getMany reads expired values as undefined", async () => {
        await store.set("live", "yes");
        await store.set("later", "soon", 2 * MINUTE);
        await store.set("dead", "no", MINUTE);
        pass(MINUTE + 1);
        expect(await store.getMany(["live", "dead", "later"])).toEqual(["yes", undefined, "soon"]);
        pass(MINUTE);
        expect(await store.getMany(["live", "dead", "later"])).toEqual([
          "yes",
          undefined,
          undefined,
        ]);
      });

      it("refuses a TTL that is not a positive number rather than keep the value forever", async () => {
        for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(store.set("bad", 1, ttl)).rejects.toThrow(RangeError);
          await expect(store.add("bad", 1, ttl)).rejects.toThrow(RangeError);
          await expect(store.increment("bad", ttl)).rejects.toThrow(RangeError);
        }
        expect(await store.get("bad")).toBeUndefined();
      });
    });

    describe("delete", () => {
      it("returns true when it deleted, false when there was nothing", async () => {
        await store.set("k", "v");
        expect(await store.delete("k")).toBe(true);
        expect(await store.get("k")).toBeUndefined();
        expect(await store.delete("k")).toBe(false);
        expect(await store.delete("never-set")).toBe(false);
      });

      it("of an expired record returns false", async () => {
        await store.set("k", "v", MINUTE);
        pass(MINUTE + 1); // no read in between: the record is still physically there
        expect(await store.delete("k")).toBe(false);
      });

      it("of a record at its last live millisecond returns true", async () => {
        await store.set("k", "v", MINUTE);
        pass(MINUTE);
        expect(await store.delete("k")).toBe(true);
      });

      it("50 concurrent deletes of one key: exactly one returns true", async () => {
        await store.set("k", "v");
        const results = await Promise.all(Array.from({ length: 50 }, () => store.delete("k")));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe("add", () => {
      it("returns true once, then false, and keeps the first value", async () => {
        expect(await store.add("once", { n: 1 }, 10_000)).toBe(true);
        expect(await store.add("once", { n: 2 }, 10_000)).toBe(false);
        expect(await store.get("once")).toEqual({ n: 1 });
      });

      it("does not replace a value written by set", async () => {
        await store.set("k", "set");
        expect(await store.add("k", "add")).toBe(false);
        expect(await store.get("k")).toBe("set");
      });

      it("without a TTL holds the key for good", async () => {
        expect(await store.add("k", "v")).toBe(true);
        pass(10 * 365 * 24 * HOUR);
        expect(await store.add("k", "other", 10)).toBe(false);
        expect(await store.get("k")).toBe("v");
      });

      it("returns true again once the first record has expired, and the new value reads back", async () => {
        expect(await store.add("k", "first", MINUTE)).toBe(true);
        expect(await store.add("k", "early")).toBe(false);
        pass(MINUTE);
        expect(await store.add("k", "at its last millisecond", HOUR)).toBe(false);
        expect(await store.get("k")).toBe("first");
        pass(1);
        expect(await store.add("k", "second", HOUR)).toBe(true);
        expect(await store.get("k")).toBe("second");
        expect(await store.getMany(["k"])).toEqual(["second"]);
        expect(await store.add("k", "third")).toBe(false);
      });

      it("after delete, the key can be added again", async () => {
        expect(await store.add("k", 1)).toBe(true);
        expect(await store.delete("k")).toBe(true);
        expect(await store.add("k", 2)).toBe(true);
        expect(await store.get("k")).toBe(2);
      });

      it("50 concurrent adds on one key: exactly one wins, and its value is stored", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, n) => store.add("race", { n }, 10_000)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.get("race")).toEqual({ n: results.indexOf(true) });
      });

      it("a read that finds an expired record never removes a record added in its place", async () => {
        // The read sees the expired record, the add replaces it, then the read's clean-up runs:
        // it must not delete the new record, or a second add would also win.
        const keys = Array.from({ length: 20 }, (_, n) => `stale-${n}`);
        await Promise.all(keys.map((key) => store.set(key, "old", MINUTE)));
        pass(MINUTE + 1);
        const added = await Promise.all(
          keys.map(async (key, n) => {
            const read = n % 2 === 0 ? store.get(key) : store.getMany([key]);
            const [, won] = await Promise.all([read, store.add(key, "new", 10_000)]);
            return won;
          }),
        );
        expect(added.every(Boolean)).toBe(true);
        expect(await store.getMany(keys)).toEqual(keys.map(() => "new"));
        for (const key of keys) expect(await store.add(key, "again")).toBe(false);
      });
    });

    describe("increment", () => {
      const counts = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

      it("counts 1, 2, 3 from an absent key, and get reads the count as a number", async () => {
        expect(await store.increment("n")).toBe(1);
        expect(await store.increment("n")).toBe(2);
        expect(await store.increment("n")).toBe(3);
        expect(await store.get("n")).toBe(3);
        expect(await store.getMany(["n"])).toEqual([3]);
      });

      it("keys count independently", async () => {
        expect(await store.increment("a")).toBe(1);
        expect(await store.increment("a")).toBe(2);
        expect(await store.increment("b")).toBe(1);
        expect(await store.increment("a:b")).toBe(1);
        expect(await store.getMany(["a", "b", "a:b"])).toEqual([2, 1, 1]);
      });

      it("restarts at 1 once the counter has expired, with the new call's TTL", async () => {
        expect(await store.increment("n", MINUTE)).toBe(1);
        expect(await store.increment("n", MINUTE)).toBe(2);
        pass(MINUTE);
        expect(await store.increment("n", MINUTE)).toBe(3);
        pass(1); // no read in between: the expired record is still physically there
        expect(await store.increment("n", HOUR)).toBe(1);
        pass(MINUTE + 1); // the restarted counter lives by its own TTL, not the expired one's
        expect(await store.increment("n", HOUR)).toBe(2);
      });

      it("a later increment keeps the counter's original expiry", async () => {
        expect(await store.increment("n", MINUTE)).toBe(1);
        expect(await store.increment("n", HOUR)).toBe(2);
        expect(await store.increment("n")).toBe(3);
        pass(MINUTE);
        expect(await store.get("n")).toBe(3);
        pass(1);
        expect(await store.get("n")).toBeUndefined();
        expect(await store.increment("n")).toBe(1);
      });

      it("100 concurrent increments on one key return 1..100, each once", async () => {
        const results = await Promise.all(
          Array.from({ length: 100 }, () => store.increment("race", 10_000)),
        );
        expect(results.toSorted((x, y) => x - y)).toEqual(counts(100));
        expect(await store.get("race")).toBe(100);
      });

      it("continues a number written by set, keeping its TTL", async () => {
        await store.set("n", 41, MINUTE);
        expect(await store.increment("n", HOUR)).toBe(42);
        pass(MINUTE);
        expect(await store.get("n")).toBe(42);
        pass(1);
        expect(await store.get("n")).toBeUndefined();
      });

      it("refuses a live value that is not an integer, and leaves it as it was", async () => {
        const values = ["text", "7", 2.5, true, null, [1], { value: 1 }, Number.MAX_SAFE_INTEGER];
        for (const [n, value] of values.entries()) {
          await store.set(`k${n}`, value);
          await expect(store.increment(`k${n}`)).rejects.toThrow(TypeError);
          expect(await store.get(`k${n}`)).toEqual(value);
        }
      });

      it("starts from 0 over an expired value that was not a number", async () => {
        await store.set("n", "text", MINUTE);
        pass(MINUTE + 1); // no read in between: the expired record is still physically there
        expect(await store.increment("n")).toBe(1);
      });

      it("durable: false counts the same counter as atomically, with the same expiry", async () => {
        const volatile = { durable: false } as const;
        expect(await store.increment("n", MINUTE)).toBe(1);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            i % 2 === 0 ? store.increment("n", HOUR, volatile) : store.increment("n", HOUR),
          ),
        );
        expect(results.toSorted((x, y) => x - y)).toEqual(counts(51).slice(1));
        expect(await store.get("n")).toBe(51);
        pass(MINUTE + 1);
        expect(await store.increment("n", MINUTE, volatile)).toBe(1);
        await store.set("text", "not a number");
        await expect(store.increment("text", MINUTE, volatile)).rejects.toThrow(TypeError);
      });
    });

    describe("close", () => {
      it("after close, every operation rejects with temporarily_unavailable (503)", async () => {
        await store.set("k", "v");
        await store.close();
        await expectStoreUnavailable(store.get("k"));
        await expectStoreUnavailable(store.getMany(["k"]));
        await expectStoreUnavailable(store.set("k", "w"));
        await expectStoreUnavailable(store.add("other", "w"));
        await expectStoreUnavailable(store.increment("n"));
        await expectStoreUnavailable(store.delete("k"));
      });

      it("close is idempotent", async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    const { openNamespaces } = options;
    describe.skipIf(openNamespaces === undefined)("namespaces", () => {
      const openPair = async () => {
        if (openNamespaces === undefined) throw new Error("unreachable: skipped without it");
        return track(...(await openNamespaces("alpha", "beta", clock))) as [Store, Store];
      };

      it("values are isolated per namespace", async () => {
        const [alpha, beta] = await openPair();
        await alpha.set("k", "alpha");
        expect(await beta.get("k")).toBeUndefined();
        await beta.set("k", "beta");
        expect(await alpha.get("k")).toBe("alpha");
        expect(await beta.getMany(["k"])).toEqual(["beta"]);
        expect(await alpha.get("beta:k")).toBeUndefined();
      });

      it("add and delete in one namespace do not touch the other", async () => {
        const [alpha, beta] = await openPair();
        expect(await alpha.add("once", 1)).toBe(true);
        expect(await beta.add("once", 2)).toBe(true);
        expect(await alpha.delete("once")).toBe(true);
        expect(await beta.get("once")).toBe(2);
      });

      it("increment in one namespace does not count in the other", async () => {
        const [alpha, beta] = await openPair();
        expect(await alpha.increment("n")).toBe(1);
        expect(await alpha.increment("n")).toBe(2);
        expect(await beta.increment("n")).toBe(1);
        expect(await alpha.get("n")).toBe(2);
      });
    });
  });
}
