import type { Kysely } from "kysely";

/**
 * MCP servers and message channels of an org. Names are unique per org (agents refer to them by
 * name); secret parts are stored encrypted (lib/secrets) beside a masked copy for display.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("mcp_servers")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("headers_enc", "text")
    .addColumn("headers_masked", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("mcp_servers_org_name_key", ["org_id", "name"])
    .execute();
  await db.schema
    .createTable("channels")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("config_enc", "text", (c) => c.notNull())
    .addColumn("config_masked", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("channels_org_name_key", ["org_id", "name"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("channels").execute();
  await db.schema.dropTable("mcp_servers").execute();
}
