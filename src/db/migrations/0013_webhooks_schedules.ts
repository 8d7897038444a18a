import { type Kysely, sql } from "kysely";

/**
 * Run webhooks and schedules (DESIGN.md §6).
 *
 * - `webhook_endpoints`: an org's receivers; the signing secret (and, for 24 h after a rotation,
 *   the previous one) encrypted at rest. One endpoint per URL and org.
 * - `webhook_deliveries`: the outbox. A row is written in the transaction that ends the run (or
 *   changes its status), so a crash after the run ended still delivers; the worker claims due rows
 *   with a lease. A delivery goes with its endpoint, and with its run (deleting an agent or a
 *   conversation deletes its runs and what was about to be said of them).
 * - `schedules`: cron schedules per agent, gone with their agent (and with the conversation they
 *   post into, if any).
 * - `schedule_ticks`: one row per schedule and tick time, unique, so of the replicas that see a
 *   tick due exactly one starts its run.
 * - `usage_records.schedule_id`: usage attributed to the schedule whose tick started the run.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("webhook_endpoints")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("events", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("disabled_reason", "text")
    .addColumn("secret_enc", "text", (c) => c.notNull())
    .addColumn("previous_secret_enc", "text")
    .addColumn("previous_secret_expires_at", "bigint")
    .addColumn("failing_since", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("webhook_endpoints_org_url_idx").unique().on("webhook_endpoints").columns(["org_id", "url"]).execute();

  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("webhook_id", "text", (c) => c.notNull().references("webhook_endpoints.id").onDelete("cascade"))
    .addColumn("run_id", "text", (c) => c.references("runs.id").onDelete("cascade"))
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "bigint")
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", "bigint")
    .addColumn("response_code", "integer")
    .addColumn("last_error", "text")
    .addColumn("last_attempt_at", "bigint")
    .addColumn("delivered_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("webhook_deliveries_due_idx").on("webhook_deliveries").columns(["status", "next_attempt_at"]).execute();
  await db.schema.createIndex("webhook_deliveries_org_idx").on("webhook_deliveries").columns(["org_id", "webhook_id", "created_at"]).execute();
  await db.schema.createIndex("webhook_deliveries_run_idx").on("webhook_deliveries").columns(["run_id"]).execute();

  await db.schema
    .createTable("schedules")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("agent_id", "text", (c) => c.notNull().references("agents.id").onDelete("cascade"))
    .addColumn("cron", "text", (c) => c.notNull())
    .addColumn("timezone", "text", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("conversation_id", "text", (c) => c.references("conversations.id").onDelete("cascade"))
    .addColumn("api_key_id", "text")
    .addColumn("user_id", "text")
    .addColumn("next_run_at", "bigint")
    .addColumn("last_run_at", "bigint")
    .addColumn("last_run_id", "text")
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("schedules_due_idx").on("schedules").columns(["enabled", "next_run_at"]).execute();
  await db.schema.createIndex("schedules_org_agent_idx").on("schedules").columns(["org_id", "agent_id", "created_at"]).execute();

  await db.schema
    .createTable("schedule_ticks")
    .addColumn("schedule_id", "text", (c) => c.notNull().references("schedules.id").onDelete("cascade"))
    .addColumn("tick_at", "bigint", (c) => c.notNull())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    // The run a tick started outlives neither its agent nor its conversation; the claim stays.
    .addColumn("run_id", "text", (c) => c.references("runs.id").onDelete("set null"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("schedule_ticks_pk", ["schedule_id", "tick_at"])
    .execute();

  await sql.raw("alter table usage_records add column schedule_id text").execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql.raw("alter table usage_records drop column schedule_id").execute(db);
  await db.schema.dropTable("schedule_ticks").execute();
  await db.schema.dropTable("schedules").execute();
  await db.schema.dropTable("webhook_deliveries").execute();
  await db.schema.dropTable("webhook_endpoints").execute();
}
