import { type Kysely, sql } from "kysely";

/**
 * Tool approvals (DESIGN.md §6). Agents gain `approval_required` (JSON array of tool names, or
 * "*"). `run_approvals` holds the calls of a waiting run (`requires_action`), one row per tool
 * call, until a person decides (or the timeout does): `decided_at` is set once, by a conditional
 * update, so of two concurrent decisions exactly one wins. The run continues from its recorded
 * messages; these rows are what it needs beyond them (which calls may run, which were denied).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw("alter table agents add column approval_required text not null default '[]'").execute(db);
  await db.schema
    .createTable("run_approvals")
    .addColumn("run_id", "text", (c) => c.notNull())
    .addColumn("tool_call_id", "text", (c) => c.notNull())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("tool", "text", (c) => c.notNull())
    .addColumn("input", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("decided_at", "bigint")
    .addColumn("approved", "integer")
    .addColumn("reason", "text")
    .addColumn("decided_by", "text")
    .addPrimaryKeyConstraint("run_approvals_pk", ["run_id", "tool_call_id"])
    .execute();
  await db.schema.createIndex("run_approvals_org_run").on("run_approvals").columns(["org_id", "run_id"]).execute();
  // The timeout sweep looks for undecided rows past their expiry.
  await db.schema.createIndex("run_approvals_expiry").on("run_approvals").columns(["decided_at", "expires_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("run_approvals").execute();
  await sql.raw("alter table agents drop column approval_required").execute(db);
}
