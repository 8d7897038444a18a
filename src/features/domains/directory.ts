import type { Redis } from "ioredis";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import { randomBase62 } from "../../lib/ids";
import type { Logger } from "../../lib/logger";
import { listActiveDomains } from "./repository";

/** Redis pub/sub channel on which replicas tell each other to drop their domain cache. */
export const DOMAIN_INVALIDATION_CHANNEL = "openpaw:custom-domains:invalidate";

/**
 * Which org each active custom domain belongs to, held in memory so that routing a request by
 * its Host costs no query. The whole map is loaded at once and reloaded when older than `ttlMs`
 * or when invalidated: immediately on this replica after a change, and on the others through
 * Redis pub/sub when Redis is configured (without it, other replicas catch up within the TTL).
 */
export class ActiveDomainDirectory {
  private map: Map<string, string> | null = null;
  private loadedAt = 0;
  private loading: Promise<{ map: Map<string, string>; started: number }> | null = null;
  /** Bumped by every invalidation, so a load that started before one is not trusted after it. */
  private generation = 0;
  private subscriber: Redis | null = null;
  private readonly instanceId = randomBase62(12);

  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    private readonly options: { redis: Redis | null; ttlMs?: number },
  ) {}

  /** The org an active custom domain belongs to (host already canonical), or null. */
  async orgOf(host: string): Promise<string | null> {
    return (await this.current()).get(host) ?? null;
  }

  /** Drops the cache here and asks the other replicas to drop theirs. */
  invalidate(): void {
    this.dropLocal();
    const { redis } = this.options;
    if (redis) {
      redis.publish(DOMAIN_INVALIDATION_CHANNEL, this.instanceId).catch((error: Error) => {
        this.logger.warn("custom domain invalidation not published; other replicas catch up within the TTL", {
          error: error.message,
        });
      });
    }
  }

  /** Listens for other replicas' invalidations (when Redis is configured). */
  start(): void {
    const { redis } = this.options;
    if (!redis || this.subscriber) return;
    // A connection in subscriber mode can do nothing else, hence its own; it queues the SUBSCRIBE
    // until connected and re-subscribes after reconnecting by itself.
    const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber = subscriber;
    subscriber.on("error", (error: Error) => this.logger.warn("redis subscriber error", { error: error.message }));
    subscriber.on("message", (channel: string, message: string) => {
      if (channel === DOMAIN_INVALIDATION_CHANNEL && message !== this.instanceId) this.dropLocal();
    });
    // Invalidations sent while the connection was down are lost; start afresh when it returns.
    subscriber.on("ready", () => this.dropLocal());
    subscriber.subscribe(DOMAIN_INVALIDATION_CHANNEL).catch((error: Error) => {
      this.logger.warn("redis subscribe failed", { error: error.message });
    });
  }

  /** Closes the subscriber connection. */
  async stop(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private dropLocal(): void {
    this.generation++;
    this.map = null;
    // A load already under way may have read the rows before the change: later callers start their own.
    this.loading = null;
  }

  private async current(): Promise<Map<string, string>> {
    const ttl = this.options.ttlMs ?? 30_000;
    for (let attempt = 0; ; attempt++) {
      if (this.map && Date.now() - this.loadedAt < ttl) return this.map;
      const generation = this.generation;
      if (!this.loading) {
        const loading = this.load().finally(() => {
          if (this.loading === loading) this.loading = null;
        });
        this.loading = loading;
      }
      const { map, started } = await this.loading;
      if (generation === this.generation) {
        this.map = map;
        this.loadedAt = started;
        return map;
      }
      // Invalidated while loading: the rows may predate the change. Rare; one more load settles it.
      if (attempt >= 3) return map;
    }
  }

  private async load(): Promise<{ map: Map<string, string>; started: number }> {
    const started = Date.now();
    const rows = await listActiveDomains(this.db);
    return { map: new Map(rows.map((r) => [r.domain, r.org_id])), started };
  }
}
