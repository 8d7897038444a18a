import type { Kysely } from "kysely";

/**
 * Custom domains: at most one per org (unique org_id) and each hostname claimed by at most one
 * org (unique domain). The (status, next_check_at) index serves the background verification sweep.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("custom_domains")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().unique().references("orgs.id").onDelete("cascade"))
    .addColumn("domain", "text", (c) => c.notNull().unique())
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("cname_ok", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("failure_reason", "text")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("pending_since", "bigint", (c) => c.notNull())
    .addColumn("checked_at", "bigint")
    .addColumn("next_check_at", "bigint", (c) => c.notNull())
    .addColumn("verified_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("custom_domains_status_next_idx").on("custom_domains").columns(["status", "next_check_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("custom_domains").execute();
}
