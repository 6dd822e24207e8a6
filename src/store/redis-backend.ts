/**
 * The Redis backend of the keyv store: `redis://HOST:PORT[/DB]` (or `rediss://`), shared by
 * every Baton node (design §3.1).
 *
 * keyv (through @keyv/redis) does plain reads and writes. The operations that decide who owns
 * a record use Redis' own atomic commands, never read-then-write: `add` is `SET NX PX`, `take`
 * is `GETDEL`, and `increment` is one Lua script over the JSON record (Redis runs a script
 * with nothing in between). A record's `expires` and its native `PX` expiry are the same
 * instant, so an expired record is gone rather than merely stale.
 *
 * Fail closed and fast (design §4 rule 8): the offline queue is off, so a command sent while
 * the connection is down fails at once instead of waiting; every command has a deadline, so a
 * hung Redis gives a 503 rather than a hung request; and the client reconnects by itself, so
 * Baton recovers when Redis returns without a restart.
 *
 * @module store/redis-backend
 */

import KeyvRedis, { createClient } from "@keyv/redis";
import { storeUnavailable } from "../errors.js";
import { type Backend, newKeyv, withDeadline } from "./keyv-record.js";
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
 * Adds 1 to the integer in the JSON record at KEYS[1], keeping its TTL; writes ARGV[1] (the
 * fresh record, value 1) with PX ARGV[2] (when not empty) if the key is absent. Returns the new
 * value as decimal text, or false (nil to the client) when the value is not an integer below
 * 2^53 - 1. Numbers travel as text both ways: cjson.encode prints 14 significant digits, and
 * the client's integer-reply parser loses exactness near 2^53.
 */
const INCREMENT = `
local raw = redis.call('GET', KEYS[1])
if not raw then
  if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1])
  else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
  return '1'
end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' then return false end
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
  const adapter = new RedisAdapter(client, { throwOnErrors: true, throwOnConnectError: true });
  // keyv hands the adapter its own namespace ("keyv"), which @keyv/redis would prefix again:
  // the keys already carry ours, and add/take/increment (which bypass keyv) must name the same.
  const keyv = newKeyv(adapter);
  adapter.namespace = undefined;
  return {
    keyv,
    // node-redis' own command timeout stops at the write; a hung Redis never replies.
    timeoutMs: options.timeoutMs,
    async add(key, record, _now, ttlMs) {
      const written = await client.set(key, record, {
        condition: "NX",
        ...(ttlMs === undefined ? {} : { expiration: { type: "PX", value: Math.ceil(ttlMs) } }),
      });
      return written === "OK";
    },
    async increment(key, fresh, _now, ttlMs) {
      const ttl = ttlMs === undefined ? "" : String(Math.ceil(ttlMs));
      const count = await client.eval(INCREMENT, { keys: [key], arguments: [fresh, ttl] });
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

/**
 * @keyv/redis, except that keyv may not delete. keyv deletes a record it has just read as
 * expired; by then another node may have `add`ed a fresh record under the key, which the
 * delete would remove, letting a second `add` win. Redis' own expiry removes expired records.
 */
class RedisAdapter extends KeyvRedis<string> {
  override async delete(): Promise<boolean> {
    return false;
  }

  override async deleteMany(): Promise<boolean> {
    return false;
  }
}
