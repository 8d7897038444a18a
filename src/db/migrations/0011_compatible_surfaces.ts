import { type Kysely, sql } from "kysely";

/**
 * The OpenAI-compatible surface (DESIGN.md §6). A run's row gains the rest of its input, so a
 * background run continues on any gateway exactly as it was asked: `instructions` (the caller's
 * system text for this run, after the agent's prompt) and `prelude` (JSON of the turns the caller
 * supplied before the message). `openai_responses` marks the runs created through
 * `/openai/v1/responses` and keeps what a Response echoes that a run does not know.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw("alter table runs add column instructions text").execute(db);
  await sql.raw("alter table runs add column prelude text").execute(db);
  await db.schema
    .createTable("openai_responses")
    .addColumn("run_id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("store", "integer", (c) => c.notNull())
    .addColumn("previous_response_id", "text")
    .addColumn("metadata", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("openai_responses").execute();
  await sql.raw("alter table runs drop column prelude").execute(db);
  await sql.raw("alter table runs drop column instructions").execute(db);
}
