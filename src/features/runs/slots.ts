import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../../lib/logger";

/**
 * Limits concurrent chat runs per key (or user) and per org. A slot is taken for every key of a
 * run at once or not at all, and released when the run ends.
 */
export interface RunSlots {
  /** Takes a slot under each `[key, limit]`; null when any is full. */
  acquire(keys: Array<[key: string, limit: number]>): Promise<(() => void) | null>;
}

/** In-process slots (one gateway, or per replica when Redis is not configured). */
export function createMemoryRunSlots(): RunSlots {
  const inUse = new Map<string, number>();
  return {
    async acquire(keys) {
      if (keys.some(([key, limit]) => (inUse.get(key) ?? 0) >= limit)) return null;
      for (const [key] of keys) inUse.set(key, (inUse.get(key) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const [key] of keys) {
          const left = (inUse.get(key) ?? 1) - 1;
          if (left <= 0) inUse.delete(key);
          else inUse.set(key, left);
        }
      };
    },
  };
}

/** Millisecond clock of the Redis server, so replicas with skewed clocks agree on expiries. */
const REDIS_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/**
 * KEYS: slot sets; ARGV: member, ttl ms, then one limit per key. Every set is a sorted set of
 * holders scored by expiry: expired holders (a replica that died mid-run) are dropped first, then
 * all keys are checked and, only if none is full, the member is added to each — atomically.
 */
const ACQUIRE_LUA = `${REDIS_NOW}
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 1`;

/** KEYS: slot sets; ARGV: member, ttl ms. Pushes the member's expiry out (re-adding it if it lapsed: the run still lives). */
const REFRESH_LUA = `${REDIS_NOW}
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 1`;

export interface RedisRunSlotsOptions {
  logger: Logger;
  /** A holder not refreshed for this long is dropped (its replica died). */
  ttlMs?: number;
  /** How often a live run pushes its expiry out; well under the TTL. */
  refreshMs?: number;
  /** A Redis call slower than this counts as Redis being unreachable. */
  timeoutMs?: number;
  /** Prefix of the slot keys (tests isolate themselves with their own). */
  prefix?: string;
}

type SlotCommands = {
  openpawRunSlotsAcquire(numKeys: number, ...args: Array<string | number>): Promise<number>;
  openpawRunSlotsRefresh(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Slots shared by every replica through Redis. While Redis is unreachable each replica falls back
 * to its own in-memory slots (limits then hold per replica, not in total: the documented
 * degradation), and returns to Redis on the next acquire once it answers again. Runs admitted
 * during the outage are not counted in Redis until they end.
 *
 * A slot Redis could not be told about — a release during the outage, or an acquire that timed
 * out and may still have landed — is remembered and released again as soon as Redis answers (its
 * `ready` event, or the next acquire that succeeds). Without that, each run that ended during an
 * outage would hold its slot in Redis for a whole TTL after Redis came back, on every replica.
 */
export function createRedisRunSlots(redis: Redis, options: RedisRunSlotsOptions): RunSlots {
  const { logger } = options;
  const ttlMs = options.ttlMs ?? 60_000;
  const refreshMs = options.refreshMs ?? Math.floor(ttlMs / 3);
  const timeoutMs = options.timeoutMs ?? 1_000;
  const prefix = options.prefix ?? "openpaw:runs:";
  const fallback = createMemoryRunSlots();
  const commands = redis as unknown as Redis & SlotCommands;
  if (!("openpawRunSlotsAcquire" in commands)) {
    redis.defineCommand("openpawRunSlotsAcquire", { lua: ACQUIRE_LUA });
    redis.defineCommand("openpawRunSlotsRefresh", { lua: REFRESH_LUA });
  }
  let degraded = false;
  /** member → its slot sets and when Redis was last asked to free them; see the doc comment above. */
  const unreleased = new Map<string, { keys: string[]; since: number }>();

  const release = (member: string, redisKeys: string[], since = Date.now()) => {
    const pipeline = redis.pipeline();
    for (const key of redisKeys) pipeline.zrem(key, member);
    const failed = (error: Error) => {
      unreleased.set(member, { keys: redisKeys, since });
      logger.warn("run slot release failed; retried when Redis answers", { error: error.message });
    };
    // A pipeline resolves with each command's error in its results rather than rejecting.
    pipeline.exec().then((results) => {
      const error = results?.find(([e]) => e)?.[0];
      if (error) failed(error);
      else unreleased.delete(member);
    }, failed);
  };
  const releaseLeftovers = () => {
    const now = Date.now();
    for (const [member, { keys, since }] of unreleased) {
      // Past the TTL, Redis has dropped the holder itself (and the map stays bounded by one TTL of runs).
      if (now - since >= ttlMs) unreleased.delete(member);
      else release(member, keys, since);
    }
  };
  redis.on("ready", releaseLeftovers);

  return {
    async acquire(keys) {
      const redisKeys = keys.map(([key]) => prefix + key);
      const member = randomUUID();
      try {
        const ok = await withTimeout(
          commands.openpawRunSlotsAcquire(redisKeys.length, ...redisKeys, member, ttlMs, ...keys.map(([, limit]) => limit)),
          timeoutMs,
        );
        if (degraded) {
          degraded = false;
          logger.info("redis back: concurrent-run limits are shared across replicas again");
        }
        if (unreleased.size > 0) releaseLeftovers();
        if (ok !== 1) return null;
      } catch (error) {
        // The script may have run all the same (a slow Redis, not a dead one): free it when Redis answers.
        unreleased.set(member, { keys: redisKeys, since: Date.now() });
        if (!degraded) {
          degraded = true;
          logger.warn("redis unreachable: concurrent-run limits now hold per replica", { error: (error as Error).message });
        }
        return fallback.acquire(keys);
      }

      const refresh = setInterval(() => {
        commands.openpawRunSlotsRefresh(redisKeys.length, ...redisKeys, member, ttlMs).catch((error: Error) => {
          logger.warn("run slot refresh failed; the slot lapses after its TTL", { error: error.message });
        });
      }, refreshMs);
      refresh.unref();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        clearInterval(refresh);
        release(member, redisKeys);
      };
    },
  };
}
