import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { BatonError } from "../../src/errors.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import {
  CONTRACT_T0,
  eventually,
  expectStoreUnavailable,
  storeContract,
} from "../contract/store.contract.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-store-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sharedFile = () => `sqlite://${join(dir, "store.db")}`;
let opens = 0;

storeContract("memory://", (clock) => openKeyvStore("memory://", { clock }));

// Every contract test opens its own namespace in one shared file: many connections, one file,
// as when several Baton processes share a store.
storeContract(
  "sqlite://",
  (clock) => openKeyvStore(sharedFile(), { namespace: `t${++opens}`, clock }),
  {
    openNamespaces: async (a, b, clock) => {
      const url = `sqlite://${join(dir, `pair-${++opens}.db`)}`;
      return [
        await openKeyvStore(url, { namespace: a, clock }),
        await openKeyvStore(url, { namespace: b, clock }),
      ];
    },
  },
);

describe("openKeyvStore: sqlite://", () => {
  const opened: Store[] = [];
  const openTracked = async (url: string, clock?: ReturnType<typeof fixedClock>) => {
    const store = await openKeyvStore(url, clock === undefined ? {} : { clock });
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it("creates missing parent directories with mode 0700 and the file with 0600, in WAL mode", async () => {
    const file = join(dir, "fresh", "nested", "baton.db");
    const store = await openTracked(`sqlite://${file}`);
    await store.set("k", "v");
    expect((await stat(join(dir, "fresh"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "fresh", "nested"))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The -wal file exists only in WAL mode.
    expect(existsSync(`${file}-wal`)).toBe(true);
  });

  it("resolves a relative path against the working directory", async () => {
    const file = join(dir, "relative.db");
    const store = await openTracked(`sqlite://${relative(process.cwd(), file)}`);
    await store.set("k", "v");
    expect(existsSync(file)).toBe(true);
  });

  it("keeps data across close and reopen (a broker restart)", async () => {
    const url = `sqlite://${join(dir, "restart.db")}`;
    const before = await openKeyvStore(url);
    await before.set("plain", { a: [1, 2] });
    await before.set("with-ttl", "v", 60_000);
    expect(await before.add("single-use", "first")).toBe(true);
    await before.close();

    const after = await openTracked(url);
    expect(await after.getMany(["plain", "with-ttl"])).toEqual([{ a: [1, 2] }, "v"]);
    expect(await after.add("single-use", "second")).toBe(false);
    expect(await after.get("single-use")).toBe("first");
  });

  it("two stores on one file racing add on one key: exactly one wins", async () => {
    const url = `sqlite://${join(dir, "two-processes.db")}`;
    const [one, two] = [await openTracked(url), await openTracked(url)];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => (n % 2 === 0 ? one : two).add("jti", { n }, 10_000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = { n: results.indexOf(true) };
    expect(await one.get("jti")).toEqual(winner);
    expect(await two.get("jti")).toEqual(winner);
  });

  it("two stores on one file racing increment on one key: 1..50, each exactly once", async () => {
    const url = `sqlite://${join(dir, "two-processes-budget.db")}`;
    const [one, two] = [await openTracked(url), await openTracked(url)];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => (n % 2 === 0 ? one : two).increment("budget", 10_000)),
    );
    expect(results.toSorted((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await one.get("budget")).toBe(50);
    expect(await two.get("budget")).toBe(50);
  });

  it("two stores on one file see the same expiry: the other can add once the record expires", async () => {
    const url = `sqlite://${join(dir, "shared-expiry.db")}`;
    const clock = fixedClock(CONTRACT_T0);
    const [one, two] = [await openTracked(url, clock), await openTracked(url, clock)];
    expect(await one.add("approval", "one", 150)).toBe(true);
    expect(await two.add("approval", "two")).toBe(false);
    clock.advance(0.15);
    expect(await two.add("approval", "two", 10_000)).toBe(false);
    clock.advance(0.001);
    expect(await two.add("approval", "two", 10_000)).toBe(true);
    expect(await one.get("approval")).toBe("two");
    expect(await one.add("approval", "one")).toBe(false);
  });

  it("a path that is a directory: opening rejects with 503, the cause naming --store", async () => {
    const path = join(dir, "a-directory");
    await mkdir(path);
    const pending = openKeyvStore(`sqlite://${path}`);
    await expectStoreUnavailable(pending);
    const error = await pending.catch((e: unknown) => e);
    expect((error as BatonError).cause).toBeInstanceOf(Error);
    expect(((error as BatonError).cause as Error).message).toContain("--store");
  });

  it("a path under a regular file: opening rejects with 503", async () => {
    const file = join(dir, "not-a-directory");
    await writeFile(file, "x");
    await expectStoreUnavailable(openKeyvStore(`sqlite://${join(file, "store.db")}`));
  });

  it("once the sqlite handle is closed, reads reject instead of reading as missing", async () => {
    const store = await openKeyvStore(`sqlite://${join(dir, "closed.db")}`);
    await store.add("jti", "used");
    await store.close();
    // A store that read errors as "not found" would answer undefined here and let a replayed
    // token through (design §4 rule 8).
    const error = await store.get("jti").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatonError);
    expect(error).toMatchObject({ code: "temporarily_unavailable", status: 503 });
    await expectStoreUnavailable(store.add("jti", "replay"));
  });
});

describe("sqlite:// sweeps expired rows", () => {
  it("deletes rows past their expiry, keeps live and never-expiring ones, and reads are unchanged", async () => {
    const file = join(dir, "sweep.db");
    const clock = fixedClock(CONTRACT_T0);
    const store = await openKeyvStore(`sqlite://${file}`, { sweepMs: 20, clock });
    const { default: sqlite3 } = await import("sqlite3");
    const db = new sqlite3.Database(file);
    const keys = () =>
      new Promise<string[]>((resolve, reject) =>
        db.all("SELECT key FROM keyv ORDER BY key", (e, rows: { key: string }[]) =>
          e ? reject(e) : resolve(rows.map((r) => r.key)),
        ),
      );
    try {
      await store.set("gone", 1, 1);
      await store.set("live", 2, 3_600_000);
      await store.set("forever", 3);
      // Expired by the store's clock; the sweep runs on its real timer, hence the polling.
      clock.advance(0.002);
      await eventually(async () => !(await keys()).includes("baton:gone"));
      expect(await keys()).toEqual(["baton:forever", "baton:live"]);
      expect(await store.getMany(["gone", "live", "forever"])).toEqual([undefined, 2, 3]);
    } finally {
      await new Promise<void>((resolve) => db.close(() => resolve()));
      await store.close();
    }
  });
});

describe("sqlite:// group commit (issue 7)", () => {
  const WAL_FRAME = 4096 + 24;

  it("500 concurrent writes share commits: each is readable by another connection once it resolves", async () => {
    const url = `sqlite://${join(dir, "group.db")}`;
    const writer = await openKeyvStore(url);
    const reader = await openKeyvStore(url);
    try {
      const keys = Array.from({ length: 500 }, (_, i) => `tok:${i}`);
      await Promise.all(
        keys.map(async (key, i) => {
          await writer.set(key, { i });
          // Resolved means committed: another connection sees it at once.
          expect(await reader.get(key)).toEqual({ i });
        }),
      );
      // One commit per write would append at least one WAL frame each (500 × 4 KiB): grouped,
      // the whole burst fits in a handful of commits.
      const wal = await stat(join(dir, "group.db-wal"));
      expect(wal.size).toBeLessThan(100 * WAL_FRAME);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it("within one group the last write of a key wins, as one statement after another would", async () => {
    const store = await openKeyvStore(`sqlite://${join(dir, "last-wins.db")}`);
    try {
      const writes = Array.from({ length: 20 }, (_, i) => store.set("k", i));
      await Promise.all(writes);
      expect(await store.get("k")).toBe(19);
    } finally {
      await store.close();
    }
  });

  it("closing waits for writes still queued: none is stranded or lost", async () => {
    const url = `sqlite://${join(dir, "close-queued.db")}`;
    const store = await openKeyvStore(url);
    const writes = Array.from({ length: 200 }, (_, i) => store.set(`q:${i}`, i));
    await store.close();
    await Promise.all(writes);
    const reopened = await openKeyvStore(url);
    try {
      expect(await reopened.getMany(["q:0", "q:199"])).toEqual([0, 199]);
    } finally {
      await reopened.close();
    }
  });

  it("a failed group commit fails every write in it with 503, and the next group commits", async () => {
    const url = `sqlite://${join(dir, "group-fails.db")}`;
    const store = await openKeyvStore(url);
    const saboteur = await openKeyvStore(url, { namespace: "other" });
    try {
      await store.set("before", 1);
      // Another process drops the table: every write of the next group fails, none silently.
      const { default: sqlite3 } = await import("sqlite3");
      const db = new sqlite3.Database(join(dir, "group-fails.db"));
      await new Promise<void>((resolve, reject) =>
        db.exec("DROP TABLE keyv", (e) => (e ? reject(e) : resolve())),
      );
      await new Promise<void>((resolve) => db.close(() => resolve()));
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.set(`lost:${i}`, i)),
      );
      for (const result of results) {
        expect(result.status).toBe("rejected");
        expect((result as PromiseRejectedResult).reason).toMatchObject({
          code: "temporarily_unavailable",
          status: 503,
        });
      }
    } finally {
      await store.close();
      await saboteur.close();
    }
  });
});

describe("openKeyvStore: URLs and options", () => {
  it.each([
    "xyz",
    "",
    "memory:",
    "sqlite://",
    "file:///tmp/baton.db",
    "postgres://baton:hunter2@localhost:5432/baton",
  ])("refuses %j with an error naming --store", async (url) => {
    const error = await openKeyvStore(url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(BatonError);
    expect((error as Error).message).toMatch(/^--store: /);
    // A URL can carry a password: the message must not echo it.
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("refuses a namespace that could collide with another's keys", async () => {
    await expect(openKeyvStore("memory://", { namespace: "a:b" })).rejects.toThrow(/namespace/);
    await expect(openKeyvStore("memory://", { namespace: "" })).rejects.toThrow(/namespace/);
  });

  it("memory stores are separate from each other", async () => {
    const [one, two] = [await openKeyvStore("memory://"), await openKeyvStore("memory://")];
    await one.set("k", 1);
    expect(await two.get("k")).toBeUndefined();
    await Promise.all([one.close(), two.close()]);
  });
});
