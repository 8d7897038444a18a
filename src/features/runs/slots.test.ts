import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/logger";
import { createMemoryRunSlots, createRedisRunSlots } from "./slots";

const logger = createLogger("error", { write: () => {} });

describe("memory run slots", () => {
  it("takes every key or none and frees on release", async () => {
    const slots = createMemoryRunSlots();
    const a = await slots.acquire([
      ["k", 1],
      ["org", 2],
    ]);
    expect(a).not.toBeNull();
    expect(
      await slots.acquire([
        ["k", 1],
        ["org", 2],
      ]),
    ).toBeNull();
    // The org still has room, but nothing was taken for the refused key.
    expect(
      await slots.acquire([
        ["k2", 1],
        ["org", 2],
      ]),
    ).not.toBeNull();
    expect(
      await slots.acquire([
        ["k3", 1],
        ["org", 2],
      ]),
    ).toBeNull();
    a?.();
    expect(
      await slots.acquire([
        ["k", 1],
        ["org", 2],
      ]),
    ).not.toBeNull();
  });
});

describe.skipIf(!process.env.REDIS_URL)("redis run slots (REDIS_URL)", () => {
  let r1: Redis;
  let r2: Redis;
  const prefix = `openpaw:test:runs:${process.pid}:${Date.now()}:`;
  beforeAll(() => {
    r1 = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 });
    r2 = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await r1.keys(`${prefix}*`);
    if (keys.length) await r1.del(...keys);
    r1.disconnect();
    r2.disconnect();
  });

  it("shares limits between two instances (two replicas) atomically across keys", async () => {
    const one = createRedisRunSlots(r1, { logger, prefix });
    const two = createRedisRunSlots(r2, { logger, prefix });
    const held = await Promise.all(
      [one, two, one, two].map((s) =>
        s.acquire([
          ["key:a", 2],
          ["org:a", 3],
        ]),
      ),
    );
    expect(held.filter(Boolean)).toHaveLength(2);
    // key:b has room but org:a has one left; a refused acquire must not leave a slot behind.
    expect(
      await two.acquire([
        ["key:b", 5],
        ["org:a", 2],
      ]),
    ).toBeNull();
    expect(await r1.zcard(`${prefix}key:b`)).toBe(0);
    const third = await one.acquire([
      ["key:b", 5],
      ["org:a", 3],
    ]);
    expect(third).not.toBeNull();
    expect(
      await two.acquire([
        ["key:c", 5],
        ["org:a", 3],
      ]),
    ).toBeNull();
    for (const release of held) release?.();
    third?.();
    await new Promise((r) => setTimeout(r, 50));
    expect(await r1.zcard(`${prefix}org:a`)).toBe(0);
  });

  it("drops holders that stop refreshing (a dead replica) after the TTL, and keeps refreshed ones", async () => {
    const live = createRedisRunSlots(r1, { logger, prefix, ttlMs: 300, refreshMs: 50 });
    const held = await live.acquire([["key:ttl", 1]]);
    expect(held).not.toBeNull();
    await new Promise((r) => setTimeout(r, 600));
    expect(await live.acquire([["key:ttl", 1]])).toBeNull();
    held?.();
    // A holder whose process died: added, never refreshed, never released.
    await r1.zadd(`${prefix}key:dead`, Date.now() + 200, "ghost");
    expect(await live.acquire([["key:dead", 1]])).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(await live.acquire([["key:dead", 1]])).not.toBeNull();
  });

  it("frees in Redis, once it answers, the slots it could not: a release in an outage, an acquire that timed out but ran", async () => {
    const client = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    await client.connect();
    const slots = createRedisRunSlots(client, { logger, prefix, timeoutMs: 100 });
    const key = `${prefix}key:outage`;
    const counted = async (n: number) => {
      for (let i = 0; i < 40 && (await r1.zcard(key)) !== n; i++) await new Promise((r) => setTimeout(r, 25));
      return r1.zcard(key);
    };
    try {
      const held = await slots.acquire([["key:outage", 2]]);
      expect(await r1.zcard(key)).toBe(1);
      client.disconnect();
      held?.();
      await new Promise((r) => setTimeout(r, 50));
      expect(await r1.zcard(key)).toBe(1); // the release did not reach Redis
      await client.connect();
      expect(await counted(0)).toBe(0); // released again on `ready`, not a TTL later

      // The connection is busy for 300 ms (a blocking pop ahead of it), so the acquire times out
      // and falls back to memory; the script still runs after the pop, adding a holder no run owns.
      const busy = client.blpop(`${prefix}never`, 0.3);
      const fellBack = await slots.acquire([["key:outage", 2]]);
      expect(fellBack).not.toBeNull();
      await busy;
      expect(await counted(1)).toBe(1);
      const next = await slots.acquire([["key:outage", 2]]);
      expect(next).not.toBeNull();
      // Only `next` holds a slot in Redis: the orphan was freed when Redis answered again.
      expect(await counted(1)).toBe(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(await r1.zcard(key)).toBe(1);
      next?.();
      fellBack?.();
      expect(await counted(0)).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it("falls back to in-memory slots while Redis is unreachable", async () => {
    const down = new Redis({ port: 1, host: "127.0.0.1", lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    down.on("error", () => {});
    const slots = createRedisRunSlots(down, { logger, prefix, timeoutMs: 200 });
    const a = await slots.acquire([["key:x", 1]]);
    expect(a).not.toBeNull();
    expect(await slots.acquire([["key:x", 1]])).toBeNull();
    a?.();
    expect(await slots.acquire([["key:x", 1]])).not.toBeNull();
    down.disconnect();
  });
});
