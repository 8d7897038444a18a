import { type Kysely, sql } from "kysely";

/**
 * Durable runs (DESIGN.md §6): a run row carries everything needed to continue it on any
 * gateway (its input, background flag, lease, stop reason and error, the seq of its newest
 * event), and every event it emits is kept in `run_events` until the retention ends.
 *
 * `started_at` becomes nullable (a queued run has not started). SQLite cannot drop a NOT NULL,
 * so there the table is rebuilt with its rows; nothing references `runs` by foreign key.
 */
const RUN_COLUMNS = `
  id text primary key,
  org_id text not null references orgs(id) on delete cascade,
  agent_id text not null,
  conversation_id text not null,
  parent_run_id text,
  api_key_id text,
  user_id text,
  schedule_id text,
  model text not null,
  status text not null,
  background integer not null default 0,
  input text not null default '',
  stop_reason text,
  error text,
  input_tokens bigint not null default 0,
  output_tokens bigint not null default 0,
  cache_read_tokens bigint not null default 0,
  cache_write_tokens bigint not null default 0,
  cost double precision not null default 0,
  iterations integer not null default 0,
  tool_calls integer not null default 0,
  last_event_seq integer not null default 0,
  lease_owner text,
  lease_expires_at bigint,
  cancel_requested_at bigint,
  events_expired_at bigint,
  created_at bigint not null,
  started_at bigint,
  updated_at bigint not null,
  ended_at bigint`;

const OLD_COLUMNS =
  "id, org_id, agent_id, conversation_id, parent_run_id, api_key_id, user_id, model, status, input_tokens, output_tokens, " +
  "cache_read_tokens, cache_write_tokens, cost, iterations, tool_calls, started_at, updated_at, ended_at";

export async function up(db: Kysely<any>, dialect: "sqlite" | "postgres"): Promise<void> {
  if (dialect === "sqlite") {
    await sql.raw(`create table runs_new (${RUN_COLUMNS})`).execute(db);
    await sql.raw(`insert into runs_new (${OLD_COLUMNS}, created_at) select ${OLD_COLUMNS}, started_at from runs`).execute(db);
    await sql.raw("drop table runs").execute(db);
    await sql.raw("alter table runs_new rename to runs").execute(db);
  } else {
    await sql.raw("alter table runs alter column started_at drop not null").execute(db);
    for (const column of [
      "schedule_id text",
      "background integer not null default 0",
      "input text not null default ''",
      "stop_reason text",
      "error text",
      "last_event_seq integer not null default 0",
      "lease_owner text",
      "lease_expires_at bigint",
      "cancel_requested_at bigint",
      "events_expired_at bigint",
      "created_at bigint",
    ]) {
      await sql.raw(`alter table runs add column ${column}`).execute(db);
    }
    await sql.raw("update runs set created_at = started_at").execute(db);
    await sql.raw("alter table runs alter column created_at set not null").execute(db);
    await sql.raw("drop index if exists runs_status_idx").execute(db);
  }
  // The sweep looks for live runs whose lease lapsed, the dispatcher for the oldest queued runs;
  // lists go by org (and agent or conversation) newest first. (org_id, agent_id, created_at)
  // serves what 0007's (org_id, agent_id) did; the rebuild above dropped 0007's indexes on SQLite.
  await sql.raw("drop index if exists runs_org_agent_idx").execute(db);
  await db.schema.createIndex("runs_status_lease_idx").on("runs").columns(["status", "lease_expires_at"]).execute();
  await db.schema.createIndex("runs_org_created_idx").on("runs").columns(["org_id", "created_at", "id"]).execute();
  await db.schema.createIndex("runs_org_agent_created_idx").on("runs").columns(["org_id", "agent_id", "created_at"]).execute();
  await db.schema.createIndex("runs_org_conversation_idx").ifNotExists().on("runs").columns(["org_id", "conversation_id"]).execute();
  await db.schema.createIndex("runs_ended_idx").on("runs").columns(["ended_at"]).execute();

  await db.schema
    .createTable("run_events")
    // A run's log goes with it (deleting an agent or a conversation deletes its runs).
    .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("data", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("run_events_pk", ["run_id", "seq"])
    .execute();
  await db.schema.createIndex("run_events_org_idx").on("run_events").columns(["org_id", "run_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("run_events").execute();
}
