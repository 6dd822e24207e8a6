/**
 * The `memory://` backend of the keyv store, for tests and single-process trials: records in a
 * Map, so nothing survives the process. Every step of `add`, `increment` and `take` is
 * synchronous, which is what makes them atomic here (design §4 rule 6): no other caller runs
 * between a check and its write.
 *
 * @module store/memory-backend
 */

import { type Backend, deserialize, isCountable, isExpired, serialize } from "./keyv-record.js";

/** A fresh, empty memory backend. */
export function memoryBackend(): Backend {
  const map = new MemoryMap();
  return {
    get: (key, now) => map.read(key, now),
    getMany: async (keys, now) => keys.map((key) => map.read(key, now)),
    set: (key, record) => {
      map.set(key, record);
    },
    add: (key, record, now) => map.add(key, record, now),
    increment: (key, fresh, now) => map.increment(key, fresh, now),
    take: (key) => map.take(key),
    close: async () => map.close(),
  };
}

/** Records in a Map; every step is synchronous, so nothing runs in between its parts. */
class MemoryMap extends Map<string, string> {
  #closed = false;

  /** The record at `key`; an expired one is dropped on the way, as nothing else sweeps. */
  read(key: string, now: number): string | undefined {
    const raw = this.get(key);
    if (raw === undefined || !isExpired(deserialize(raw), now)) return raw;
    this.delete(key);
    return undefined;
  }

  override get(key: string): string | undefined {
    this.#checkOpen();
    return super.get(key);
  }

  override set(key: string, value: string): this {
    this.#checkOpen();
    return super.set(key, value);
  }

  /** Synchronous check-and-set: nothing else runs between the check and the write. */
  add(key: string, record: string, now: number): boolean {
    const raw = this.get(key);
    if (raw !== undefined && !isExpired(deserialize(raw), now)) return false;
    this.set(key, record);
    return true;
  }

  /** Synchronous read-modify-write: nothing else runs between the read and the write. */
  increment(key: string, fresh: string, now: number): number | undefined {
    const raw = this.get(key);
    const record = raw === undefined ? undefined : deserialize(raw);
    if (record === undefined || isExpired(record, now)) {
      this.set(key, fresh);
      return 1;
    }
    if (!isCountable(record.value)) return undefined;
    const value = record.value + 1;
    this.set(key, serialize({ ...record, value }));
    return value;
  }

  take(key: string): string | undefined {
    const raw = this.get(key);
    this.delete(key);
    return raw;
  }

  close(): void {
    this.#closed = true;
    super.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("the memory store is closed");
  }
}
