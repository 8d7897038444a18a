import { type Kysely, sql } from "kysely";

/**
 * PostgreSQL: an index on one agent's HISTORY in recency order, so that "the newest entries
 * matching these terms" (src/features/memory/store.ts) walks the agent's entries newest first and
 * stops at the limit, and the search window (the newest PG_HISTORY_SEARCH_WINDOW entries) is the
 * first entries of that walk instead of a count over the agent's rows. The id breaks ties of
 * created_at and is compared byte-wise (`collate "C"`): the store orders rows by the same key in
 * TypeScript when it merges candidate sets, which must agree with the database's order whatever
 * the database's collation is. The old (agent_id, created_at) index stays: deleting an agent's
 * rows and the foreign key's checks use it.
 *
 * SQLite: nothing. Its search walks the FTS5 index (migration 0015) in rowid order.
 */
export async function up(db: Kysely<any>, dialect: "sqlite" | "postgres"): Promise<void> {
  if (dialect !== "postgres") return;
  await sql`create index memory_history_recent_idx on memory_history (org_id, agent_id, created_at, id collate "C")`.execute(db);
}

export async function down(db: Kysely<any>, dialect: "sqlite" | "postgres" = "sqlite"): Promise<void> {
  if (dialect !== "postgres") return;
  await sql`drop index if exists memory_history_recent_idx`.execute(db);
}
