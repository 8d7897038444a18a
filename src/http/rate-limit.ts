import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export interface RateLimiter {
  /** Takes one point for `key`; when none are left, says how long until one is. */
  consume(key: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }>;
}

/**
 * A fixed-window limiter: in process, or shared through Redis when there is one. The Redis
 * limiter falls back to an in-memory one while Redis is unreachable, so an outage degrades limits
 * to per-replica instead of failing requests.
 */
export function createRateLimiter(options: { redis: Redis | null; name: string; points: number; durationSeconds: number }): RateLimiter {
  const base = { keyPrefix: `openpaw:rl:${options.name}`, points: options.points, duration: options.durationSeconds };
  const limiter = options.redis
    ? new RateLimiterRedis({ ...base, storeClient: options.redis, insuranceLimiter: new RateLimiterMemory(base) })
    : new RateLimiterMemory(base);
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return { ok: true };
      } catch (result) {
        if (result instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(result.msBeforeNext / 1000)) };
        throw result;
      }
    },
  };
}

export interface WindowCounter {
  /** Counts one request for `key` in the current window; says how many it has seen and when the window ends. */
  hit(key: string): Promise<{ count: number; resetMs: number }>;
}

/**
 * Counts requests per key in fixed windows, for limits that differ per key (plan-dependent):
 * the caller compares the count with its own limit. Shared through Redis when there is one, with
 * the same in-memory fallback while Redis is unreachable as `createRateLimiter`.
 */
export function createWindowCounter(options: { redis: Redis | null; name: string; durationSeconds: number }): WindowCounter {
  const base = { keyPrefix: `openpaw:rl:${options.name}`, points: Number.MAX_SAFE_INTEGER, duration: options.durationSeconds };
  const limiter = options.redis
    ? new RateLimiterRedis({ ...base, storeClient: options.redis, insuranceLimiter: new RateLimiterMemory(base) })
    : new RateLimiterMemory(base);
  return {
    async hit(key) {
      const result = await limiter.consume(key);
      return { count: result.consumedPoints, resetMs: result.msBeforeNext };
    },
  };
}
