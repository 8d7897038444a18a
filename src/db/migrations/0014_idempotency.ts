import type { Kysely } from "kysely";

/**
 * Idempotency keys (README "Idempotency"): one row per (principal, org, Idempotency-Key) for 24 h,
 * in the database so every replica sees it. `id` is a hash of that scope and the key, so the key
 * itself is not stored; the response is sealed under a key derived from the Idempotency-Key, so a
 * reader of the database cannot read it (a created API key's secret is in such a response). No
 * `org_id` column: rows are not org data anyone can list, and they expire within a day.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("idempotency_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("request_hash", "text", (c) => c.notNull())
    // running | done | stream
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("response", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("idempotency_requests_created").on("idempotency_requests").column("created_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("idempotency_requests").execute();
}
