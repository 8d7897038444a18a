import { type Kysely, sql } from "kysely";

/**
 * Usage rollup, quota counters, Stripe event log and the overage outbox.
 * - `usage_daily` is kept in step with `usage_records` (same transaction) so that counts, deep
 *   pages and summaries read a few rows per day instead of scanning history.
 * - `org_quota` is the per-org per-period counter that reserve/settle change in one statement each.
 * - `stripe_events` stores each webhook event id once.
 * - `overage_outbox` holds meter events until Stripe acknowledged them (never lost, never doubled).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("usage_daily")
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("day", "bigint", (c) => c.notNull())
    .addColumn("agent_id", "text", (c) => c.notNull())
    .addColumn("runs", "bigint", (c) => c.notNull())
    .addColumn("tokens", "bigint", (c) => c.notNull())
    .addColumn("input_tokens", "bigint", (c) => c.notNull())
    .addColumn("output_tokens", "bigint", (c) => c.notNull())
    .addColumn("tool_calls", "bigint", (c) => c.notNull())
    .addColumn("cost", "double precision", (c) => c.notNull())
    .addPrimaryKeyConstraint("usage_daily_pk", ["org_id", "day", "agent_id"])
    .execute();
  await db.schema.createIndex("usage_daily_agent_idx").on("usage_daily").columns(["org_id", "agent_id", "day"]).execute();
  // Records written before this migration get their rollup rows too.
  await sql`
    insert into usage_daily (org_id, day, agent_id, runs, tokens, input_tokens, output_tokens, tool_calls, cost)
    select org_id, created_at - (created_at % 86400000), agent_id, count(*), sum(tokens), sum(input_tokens),
           sum(output_tokens), sum(tool_calls), sum(cost)
    from usage_records
    group by org_id, created_at - (created_at % 86400000), agent_id`.execute(db);

  await db.schema
    .createTable("org_quota")
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("period_start", "bigint", (c) => c.notNull())
    .addColumn("tokens_used", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("tokens_reserved", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("overage_enqueued", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("org_quota_pk", ["org_id", "period_start"])
    .execute();
  await db.schema.createIndex("org_quota_period_idx").on("org_quota").columns(["period_start"]).execute();

  await db.schema
    .createTable("stripe_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("received_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("overage_outbox")
    .addColumn("identifier", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull())
    .addColumn("stripe_customer_id", "text", (c) => c.notNull())
    .addColumn("value", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("sent_at", "bigint")
    .addColumn("last_error", "text")
    .execute();
  await db.schema.createIndex("overage_outbox_pending_idx").on("overage_outbox").columns(["sent_at", "next_attempt_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["overage_outbox", "stripe_events", "org_quota", "usage_daily"]) {
    await db.schema.dropTable(table).execute();
  }
}
