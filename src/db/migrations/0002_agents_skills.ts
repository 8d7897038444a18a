import type { Kysely } from "kysely";

/** Agents, custom skills and which skills each agent uses. Built-in skills live in the repo, not here. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("agents")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("system_prompt", "text", (c) => c.notNull())
    .addColumn("model", "text", (c) => c.notNull())
    .addColumn("temperature", "double precision", (c) => c.notNull())
    .addColumn("max_iterations", "integer", (c) => c.notNull())
    .addColumn("enabled_tools", "text", (c) => c.notNull())
    .addColumn("metadata", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("agents_org_idx").on("agents").columns(["org_id", "created_at"]).execute();

  await db.schema
    .createTable("skills")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("content", "text", (c) => c.notNull())
    .addColumn("files", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("skills_org_name_unique", ["org_id", "name"])
    .execute();

  await db.schema
    .createTable("agent_skills")
    .addColumn("org_id", "text", (c) => c.notNull())
    .addColumn("agent_id", "text", (c) => c.notNull().references("agents.id").onDelete("cascade"))
    .addColumn("skill_id", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("agent_skills_pk", ["agent_id", "skill_id"])
    .execute();
  await db.schema.createIndex("agent_skills_skill_idx").on("agent_skills").columns(["org_id", "skill_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["agent_skills", "skills", "agents"]) await db.schema.dropTable(table).execute();
}
