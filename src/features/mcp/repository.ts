import type { Kysely } from "kysely";
import type { Database, McpServersTable } from "../../db/schema";

/** Every query is scoped by org: another org's server is simply not found. */
export function insertMcpServer(db: Kysely<Database>, row: McpServersTable): Promise<unknown> {
  return db.insertInto("mcp_servers").values(row).execute();
}

export function listMcpServers(db: Kysely<Database>, orgId: string, onlyEnabled = false): Promise<McpServersTable[]> {
  let query = db.selectFrom("mcp_servers").selectAll().where("org_id", "=", orgId);
  if (onlyEnabled) query = query.where("enabled", "=", 1);
  return query.orderBy("created_at").orderBy("id").execute();
}

export function findMcpServer(db: Kysely<Database>, orgId: string, id: string): Promise<McpServersTable | undefined> {
  return db.selectFrom("mcp_servers").selectAll().where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
}

export function findMcpServerByName(db: Kysely<Database>, orgId: string, name: string): Promise<McpServersTable | undefined> {
  return db.selectFrom("mcp_servers").selectAll().where("org_id", "=", orgId).where("name", "=", name).executeTakeFirst();
}

export type McpServerChanges = Partial<Pick<McpServersTable, "name" | "url" | "headers_enc" | "headers_masked" | "enabled">> & { updated_at: number };

export async function updateMcpServer(db: Kysely<Database>, orgId: string, id: string, changes: McpServerChanges): Promise<boolean> {
  const result = await db.updateTable("mcp_servers").set(changes).where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deleteMcpServer(db: Kysely<Database>, orgId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom("mcp_servers").where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
