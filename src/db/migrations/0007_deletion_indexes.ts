import type { Kysely } from "kysely";

/**
 * Deleting an agent or a conversation deletes its runs in the same transaction; without these
 * the delete scans every run of the database. (Listing runs by agent or conversation uses them too.)
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("runs_org_agent_idx").on("runs").columns(["org_id", "agent_id"]).execute();
  await db.schema.createIndex("runs_org_conversation_idx").on("runs").columns(["org_id", "conversation_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("runs_org_conversation_idx").execute();
  await db.schema.dropIndex("runs_org_agent_idx").execute();
}
