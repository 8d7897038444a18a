import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { EVERYTHING, InvalidationBus } from "./invalidation";
import { createLogger } from "./logger";

const logger = createLogger("error", { write: () => {} });

/** Resolves when `seen` has `n` entries (messages cross Redis asynchronously). */
async function until(seen: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
}

describe("invalidation bus", () => {
  it("delivers to this replica's listeners before publish returns, per channel", () => {
    const bus = new InvalidationBus(null, logger);
    const keys: string[] = [];
    const domains: string[] = [];
    bus.listen("keys", (s) => keys.push(s));
    bus.listen("domains", (s) => domains.push(s));
    bus.publish("keys", "org:org_1");
    expect(keys).toEqual(["org:org_1"]);
    expect(domains).toEqual([]);
  });

  it("keeps delivering when one listener throws", () => {
    const bus = new InvalidationBus(null, logger);
    const seen: string[] = [];
    bus.listen("c", () => {
      throw new Error("boom");
    });
    bus.listen("c", (s) => seen.push(s));
    bus.publish("c", "x");
    expect(seen).toEqual(["x"]);
  });

  describe.skipIf(!process.env.REDIS_URL)("across replicas (Redis)", () => {
    const clients: Redis[] = [];
    const buses: InvalidationBus[] = [];
    afterAll(() => {
      for (const b of buses) b.stop();
      for (const c of clients) c.disconnect();
    });
    const replica = () => {
      const redis = new Redis(process.env.REDIS_URL as string);
      clients.push(redis);
      const bus = new InvalidationBus(redis, logger);
      buses.push(bus);
      return bus;
    };

    it("tells the other replica once, ignores its own message, and reads a bare sender as everything", async () => {
      const channel = `openpaw:test:${Date.now()}`;
      const [a, b] = [replica(), replica()];
      const seenA: string[] = [];
      const seenB: string[] = [];
      a.listen(channel, (s) => seenA.push(s));
      b.listen(channel, (s) => seenB.push(s));
      a.start();
      b.start();
      // Each subscriber says EVERYTHING once when it (re)connects: changes may have been missed.
      await until(seenA, 1);
      await until(seenB, 1);
      expect(seenA).toEqual([EVERYTHING]);
      expect(seenB).toEqual([EVERYTHING]);

      a.publish(channel, "key:key_1");
      await until(seenB, 2);
      expect(seenB).toEqual([EVERYTHING, "key:key_1"]);
      await new Promise((r) => setTimeout(r, 50));
      expect(seenA).toEqual([EVERYTHING, "key:key_1"]);

      // An older replica publishes its id alone.
      await clients[0].publish(channel, "someoneelse");
      await until(seenB, 3);
      expect(seenB.at(-1)).toBe(EVERYTHING);
    });
  });
});
