import type { Kysely } from "kysely";
import type { ApiKeysTable, Database } from "../../db/schema";
import { EVERYTHING, type InvalidationBus } from "../../lib/invalidation";
import type { Logger } from "../../lib/logger";
import { findApiKeyByHash, touchApiKeys } from "./repository";
import { isWellFormedApiKey, sha256Hex } from "./key-format";

export type KeyCheck = { ok: true; key: ApiKeysTable } | { ok: false; reason: "malformed" | "unknown" | "revoked" | "expired" };

/** Invalidation channel of key lookups; subjects are `key:<id>`, `org:<id>` or everything. */
export const API_KEY_INVALIDATION_CHANNEL = "openpaw:api-keys:invalidate";

/** What an invalidation is about: one key (revoked) or every key of an org (deleted). */
export type KeyChange = { keyId: string } | { orgId: string };

/**
 * Resolves presented API keys to their records. Lookups are cached; every change that affects a
 * key (its revocation, its org's deletion) invalidates the cache on every replica through the
 * invalidation bus, and entries live at most `cacheTtlMs` (short) for when a message is lost.
 * `lastUsedAt` is buffered in memory and written in batches, so authenticating costs no database
 * write per request.
 */
export class ApiKeyAuthenticator {
  private cache = new Map<string, { key: ApiKeysTable | undefined; at: number }>();
  private lastUsed = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    private readonly bus: InvalidationBus,
    private readonly options: { cacheTtlMs: number; flushIntervalMs: number; now?: () => number } = {
      cacheTtlMs: 500,
      flushIntervalMs: 15_000,
    },
  ) {
    bus.listen(API_KEY_INVALIDATION_CHANNEL, (subject) => this.dropLocal(subject));
  }

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

  /** Forgets cached lookups of a changed key or org, here and on the other replicas. Call after the change is committed. */
  invalidate(change: KeyChange): void {
    this.bus.publish(API_KEY_INVALIDATION_CHANNEL, "keyId" in change ? `key:${change.keyId}` : `org:${change.orgId}`);
  }

  private dropLocal(subject: string): void {
    if (subject === EVERYTHING) {
      this.cache.clear();
      return;
    }
    const colon = subject.indexOf(":");
    const kind = subject.slice(0, colon);
    const id = subject.slice(colon + 1);
    for (const [hash, entry] of this.cache) {
      // Unknown keys are cached too; one of them may have been created since, so they go as well.
      if (!entry.key || (kind === "key" ? entry.key.id === id : entry.key.org_id === id)) this.cache.delete(hash);
    }
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
