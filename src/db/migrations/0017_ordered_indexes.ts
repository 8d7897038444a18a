import type { Kysely } from "kysely";

/**
 * Indexes that answer the hot queries in the order they ask for (src/db/prepared.test.ts asks
 * SQLite for the plan of every prepared query and fails on a table scan or a sort):
 * - a page of an org's agents, newest first with the id breaking ties: the old (org_id,
 *   created_at) index left a sort of the ties' ids on every keyed GET of the agents list;
 * - one agent's skill links in attachment order, read by every run and every agent read: the only
 *   index with org_id first was (org_id, skill_id), so SQLite read every link of the org and
 *   sorted them, a cost that grew with the org;
 * - one agent's NOTES, oldest first with the id breaking ties, read by every run.
 * The replaced indexes are prefixes of their successors, so nothing else loses an index.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("agents_org_recent_idx").on("agents").columns(["org_id", "created_at", "id"]).execute();
  await db.schema.dropIndex("agents_org_idx").execute();
  await db.schema
    .createIndex("agent_skills_agent_idx")
    .on("agent_skills")
    .columns(["org_id", "agent_id", "created_at", "skill_id"])
    .execute();
  await db.schema.createIndex("memory_notes_agent_order_idx").on("memory_notes").columns(["agent_id", "created_at", "id"]).execute();
  await db.schema.dropIndex("memory_notes_agent_idx").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("memory_notes_agent_idx").on("memory_notes").columns(["agent_id", "created_at"]).execute();
  await db.schema.dropIndex("memory_notes_agent_order_idx").execute();
  await db.schema.dropIndex("agent_skills_agent_idx").execute();
  await db.schema.createIndex("agents_org_idx").on("agents").columns(["org_id", "created_at"]).execute();
  await db.schema.dropIndex("agents_org_recent_idx").execute();
}
