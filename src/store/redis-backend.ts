/**
 * The Redis backend of the keyv store: `redis://HOST:PORT[/DB]` (or `rediss://`), shared by
 * every Baton node (design §3.1).
 *
 * Plain reads and writes are `GET`, `MGET` and `SET`. The operations that decide who owns a
 * record are atomic in Redis, never read-then-write: `take` is `GETDEL`, and `add` and
 * `increment` are one Lua script each over the JSON record (Redis runs a script with nothing in
 * between). Two clocks, one instant: a record's `expires` is stamped and checked by the store's
 * clock (the scripts take it as an argument), and Redis also drops the key by its own clock
 * (`PX`, the record's TTL), so that expired records do not pile up. With the system clock both
 * fall together; with a test's fixed clock, the store's clock decides what is live.
 *
 * Fail closed and fast (design §4 rule 8): the offline queue is off, so a command sent while
 * the connection is down fails at once instead of waiting; every command has a deadline, so a
 * hung Redis gives a 503 rather than a hung request; and the client reconnects by itself, so
 * Baton recovers when Redis returns without a restart.
 *
 * @module store/redis-backend
 */

import { createClient } from "@keyv/redis";
import { storeUnavailable } from "../errors.js";
import { type Backend, withDeadline } from "./keyv-record.js";
import { redactedStoreUrl } from "./store-url.js";

export interface RedisBackendOptions {
  /** The deadline of every command, in milliseconds. */
  readonly timeoutMs: number;
  /** Errors on the connection outside any command (Redis went away while idle). */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** Longest wait between reconnection attempts: Redis is back within this of its return. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/**
 * The record at KEYS[1] if it is live at ARGV[3] (the store's clock, ms): a table, false when
 * there is none or it has expired, or nil when it is not a JSON object. Then writes ARGV[1]
 * with PX ARGV[2] (none when empty), shared by both scripts.
 */
const LIVE_RECORD = `
local function live_record()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return false end
  local ok, record = pcall(cjson.decode, raw)
  if not ok or type(record) ~= 'table' then return nil end
  if type(record['expires']) == 'number' and tonumber(ARGV[3]) > record['expires'] then
    return false
  end
  return record
end
local function write_fresh()
  if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1])
  else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
end
`;

/**
 * Writes ARGV[1] with PX ARGV[2] unless a live record holds KEYS[1] (a value that is not a
 * JSON object counts as live: never overwrite what cannot be read). Returns 1 when it wrote.
 */
const ADD = `${LIVE_RECORD}
if live_record() ~= false then return 0 end
write_fresh()
return 1
`;

/**
 * Adds 1 to the integer in the live JSON record at KEYS[1], keeping its TTL; writes ARGV[1]
 * (the fresh record, value 1) with PX ARGV[2] if no live record holds the key. Returns the new
 * value as decimal text, or false (nil to the client) when the value is not an integer below
 * 2^53 - 1. Numbers travel as text both ways: cjson.encode prints 14 significant digits, and
 * the client's integer-reply parser loses exactness near 2^53.
 */
const INCREMENT = `${LIVE_RECORD}
local record = live_record()
if record == nil then return false end
if record == false then
  write_fresh()
  return '1'
end
local value = record['value']
if type(value) ~= 'number' or value ~= math.floor(value) or value < -9007199254740991
  or value >= 9007199254740991 then return false end
local out = '{"value":' .. string.format('%.17g', value + 1)
if type(record['expires']) == 'number' then
  out = out .. ',"expires":' .. string.format('%.17g', record['expires'])
end
redis.call('SET', KEYS[1], out .. '}', 'KEEPTTL')
return string.format('%.17g', value + 1)
`;

/** Connects, or rejects with `storeUnavailable` naming the setting (never the password). */
export async function redisBackend(url: string, options: RedisBackendOptions): Promise<Backend> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
  });
  // Without a listener, an 'error' event would end the process; with one, the client keeps
  // reconnecting and each command in the meantime fails on its own.
  client.on("error", (error: unknown) => options.onError?.(error));
  try {
    await withDeadline(client.connect(), options.timeoutMs);
  } catch (error) {
    await client.destroy();
    throw storeUnavailable(
      new Error(`--store: cannot connect to ${redactedStoreUrl(url)}`, { cause: error }),
    );
  }
  // Redis' PX takes whole milliseconds: rounded up, Redis never drops a record still live.
  const px = (ttlMs: number | undefined) => (ttlMs === undefined ? "" : String(Math.ceil(ttlMs)));
  return {
    // node-redis' own command timeout stops at the write; a hung Redis never replies.
    timeoutMs: options.timeoutMs,
    async get(key) {
      return (await client.get(key)) ?? undefined;
    },
    async getMany(keys) {
      return (await client.mGet([...keys])).map((raw) => raw ?? undefined);
    },
    async set(key, record, ttlMs) {
      await client.set(
        key,
        record,
        ttlMs === undefined ? {} : { expiration: { type: "PX", value: Math.ceil(ttlMs) } },
      );
    },
    async add(key, record, now, ttlMs) {
      const written = await client.eval(ADD, {
        keys: [key],
        arguments: [record, px(ttlMs), String(now)],
      });
      return written === 1;
    },
    async increment(key, fresh, now, ttlMs) {
      const count = await client.eval(INCREMENT, {
        keys: [key],
        arguments: [fresh, px(ttlMs), String(now)],
      });
      return typeof count === "string" ? Number(count) : undefined;
    },
    async take(key) {
      return (await client.getDel(key)) ?? undefined;
    },
    async close() {
      // A clean QUIT when Redis answers; otherwise drop the socket rather than wait.
      await client.close().catch(() => client.destroy());
    },
  };
}
