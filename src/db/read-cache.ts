import type { WriteVersions } from "./write-versions";
import type { Database } from "./schema";

/** A table a cached read depends on. */
export type TableName = keyof Database & string;

interface Entry {
  value: unknown;
  version: number;
  at: number;
}

export interface ReadCacheOptions {
  /** How long an entry may answer at most: the bound on seeing a write made by another process. */
  ttlMs: number;
  /** Entries kept at most; the oldest goes first. */
  maxEntries: number;
  now?: () => number;
}

/**
 * Results of read-mostly queries (an org's agent page, its plan row, its agents' skills), kept
 * per org and answered again until a table they depend on is written. Every write of this
 * process is seen where it runs (src/db/write-versions.ts), so a read after a write is never
 * answered from before it; writes of another process on the same file (`openpaw orgs set-plan`)
 * show within `ttlMs`.
 *
 * Only where one process sees every write: SQLite's one connection. On PostgreSQL replicas write
 * the same rows, and telling whether another one did costs a round trip, the price of the read
 * itself, so there every `get` runs its query (`versions` is null).
 *
 * Values are shared by every request that reads them: they are frozen when stored, so a caller
 * that tries to change one fails at once instead of changing another request's answer.
 *
 * @example
 * const org = await db.reads.get(orgId, "org", ["orgs"], () => findOrg(db.kysely, orgId));
 */
export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(
    private readonly versions: WriteVersions | null,
    private readonly options: ReadCacheOptions = { ttlMs: 1_000, maxEntries: 10_000 },
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * `load()`'s answer for `key` of `orgId`, from the cache while no table of `tables` has been
   * written since it was read. `tables` must name every table the query reads; the key, every
   * argument of the query besides the org.
   */
  async get<T>(orgId: string, key: string, tables: readonly TableName[], load: () => Promise<T>): Promise<T> {
    const versions = this.versions;
    if (!versions) return load();
    // The org id is part of every key (and never contains the separator): one org's entry can
    // never answer another's read.
    const id = `${orgId}\u0000${key}`;
    const version = versions.of(tables);
    const entry = this.entries.get(id);
    if (entry && entry.version === version && this.now() - entry.at < this.options.ttlMs) return entry.value as T;
    const at = this.now();
    const value = await load();
    // Stored only if nothing it depends on was written while it was read: otherwise it may be
    // from before that write, and the next read has to read again.
    if (versions.of(tables) === version) this.store(id, { value: freeze(value), version, at });
    return value;
  }

  /** Entries held now (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  private store(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}

/** Freezes arrays and plain objects (rows), all the way down; cache nothing else (a Map cannot be frozen). */
function freeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  for (const item of Object.values(value)) freeze(item);
  return Object.freeze(value);
}
