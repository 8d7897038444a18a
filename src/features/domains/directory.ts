import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import { EVERYTHING, type InvalidationBus } from "../../lib/invalidation";
import { listActiveDomains } from "./repository";

/** Redis pub/sub channel on which replicas tell each other to drop their domain cache. */
export const DOMAIN_INVALIDATION_CHANNEL = "openpaw:custom-domains:invalidate";

/**
 * Which org each active custom domain belongs to, held in memory so that routing a request by
 * its Host costs no query. The whole map is loaded at once and reloaded when older than `ttlMs`
 * or when invalidated: immediately on this replica after a change, and on the others through
 * the invalidation bus (Redis pub/sub; without Redis, other replicas catch up within the TTL).
 */
export class ActiveDomainDirectory {
  private map: Map<string, string> | null = null;
  private loadedAt = 0;
  private loading: Promise<{ map: Map<string, string>; started: number }> | null = null;
  /** Bumped by every invalidation, so a load that started before one is not trusted after it. */
  private generation = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly bus: InvalidationBus,
    private readonly options: { ttlMs?: number } = {},
  ) {
    bus.listen(DOMAIN_INVALIDATION_CHANNEL, () => this.dropLocal());
  }

  /** The org an active custom domain belongs to (host already canonical), or null. */
  async orgOf(host: string): Promise<string | null> {
    return (await this.current()).get(host) ?? null;
  }

  /** Drops the cache here and asks the other replicas to drop theirs. */
  invalidate(): void {
    this.bus.publish(DOMAIN_INVALIDATION_CHANNEL, EVERYTHING);
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

  /** Cross-tenant on purpose: routing by Host needs every org's active domain. */
  private async load(): Promise<{ map: Map<string, string>; started: number }> {
    const started = Date.now();
    const rows = await listActiveDomains(this.db);
    return { map: new Map(rows.map((r) => [r.domain, r.org_id])), started };
  }
}
