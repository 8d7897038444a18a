import { type Kysely, sql } from "kysely";

/**
 * The app's tables: on PostgreSQL only those of the current schema (each harness has its own;
 * other runs' schemas in the same database, older or newer, must not count).
 */
export async function appTables(db: Kysely<any>) {
  const tables = await db.introspection.getTables();
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db).catch(() => ({ rows: [] as { schema: string }[] }));
  const schema = rows[0]?.schema;
  return schema ? tables.filter((t) => t.schema === undefined || t.schema === schema) : tables;
}
