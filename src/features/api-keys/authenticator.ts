import type { Kysely } from "kysely";
import type { ApiKeysTable, Database } from "../../db/schema";
import type { Logger } from "../../lib/logger";
import { findApiKeyByHash, touchApiKeys } from "./repository";
import { isWellFormedApiKey, sha256Hex } from "./key-format";

export type KeyCheck = { ok: true; key: ApiKeysTable } | { ok: false; reason: "malformed" | "unknown" | "revoked" | "expired" };

/**
 * Resolves presented API keys to their records. Lookups are cached for `cacheTtlMs` (short, so a
 * revocation on another replica takes effect within it) and `lastUsedAt` is buffered in memory
 * and written in batches, so authenticating costs no database write per request.
 */
export class ApiKeyAuthenticator {
  private cache = new Map<string, { key: ApiKeysTable | undefined; at: number }>();
  private lastUsed = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    private readonly options: { cacheTtlMs: number; flushIntervalMs: number; now?: () => number } = {
      cacheTtlMs: 500,
      flushIntervalMs: 15_000,
    },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Checks a presented key; the key text itself is never logged or echoed. */
  async check(presented: string): Promise<KeyCheck> {
    if (!isWellFormedApiKey(presented)) return { ok: false, reason: "malformed" };
    const hash = await sha256Hex(presented);
    const now = this.now();
    let entry = this.cache.get(hash);
    if (!entry || now - entry.at > this.options.cacheTtlMs) {
      // The unique index on key_hash does the matching; the hash itself is not secret-dependent timing.
      entry = { key: await findApiKeyByHash(this.db, hash), at: now };
      this.cache.set(hash, entry);
      if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    }
    const key = entry.key;
    if (!key) return { ok: false, reason: "unknown" };
    if (key.revoked_at !== null) return { ok: false, reason: "revoked" };
    if (key.expires_at !== null && key.expires_at <= now) return { ok: false, reason: "expired" };
    this.lastUsed.set(key.id, now);
    this.scheduleFlush();
    return { ok: true, key };
  }

  /** Forgets cached lookups (after a revocation on this replica). */
  invalidate(): void {
    this.cache.clear();
  }

  /** The buffered last-used time of a key, newer than the database's. */
  lastUsedAt(keyId: string): number | undefined {
    return this.lastUsed.get(keyId);
  }

  private scheduleFlush(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch((error) => this.logger.warn("api key last-used flush failed", { error }));
    }, this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes buffered last-used times now (also at shutdown). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.lastUsed.size === 0) return;
    const batch = this.lastUsed;
    this.lastUsed = new Map();
    await touchApiKeys(this.db, batch);
  }
}
