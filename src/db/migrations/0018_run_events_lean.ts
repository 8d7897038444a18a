import { type Kysely, sql } from "kysely";

/**
 * `run_events` keeps one B-tree per row write instead of three on SQLite (two on PostgreSQL):
 * the `(org_id, run_id)` index and the foreign key to `orgs` go.
 *
 * Why: a run's events go to the log in group commits, and each commit touches one leaf of every
 * index per run in it. The org index sorts by run id like the primary key, so it doubled the
 * pages each commit wrote: measured with 5,000 streaming runs (one event per run per commit),
 * 56 → 24 µs of SQLite time per logged event (bench/event-log-layout.ts, BENCHMARKS.md).
 *
 * Nothing needs them: every read and delete names the run (the primary key `(run_id, seq)`
 * serves it, with `org_id` checked on the row), and deleting an org still deletes its runs' logs,
 * through `runs` (whose `org_id` cascades) and this table's `run_id` foreign key, which cascades.
 * SQLite cannot drop a foreign key, so there the table is rebuilt with its rows.
 */
export async function up(db: Kysely<any>, dialect: "sqlite" | "postgres"): Promise<void> {
  if (dialect === "sqlite") {
    await sql
      .raw(
        `create table run_events_new (
          run_id text not null references runs(id) on delete cascade,
          seq integer not null,
          org_id text not null,
          event text not null,
          data text not null,
          created_at bigint not null,
          constraint run_events_pk primary key (run_id, seq))`,
      )
      .execute(db);
    await sql.raw("insert into run_events_new select run_id, seq, org_id, event, data, created_at from run_events").execute(db);
    await sql.raw("drop table run_events").execute(db);
    await sql.raw("alter table run_events_new rename to run_events").execute(db);
  } else {
    await sql.raw("drop index if exists run_events_org_idx").execute(db);
    await sql.raw("alter table run_events drop constraint if exists run_events_org_id_fkey").execute(db);
  }
}

export async function down(db: Kysely<any>, dialect: "sqlite" | "postgres"): Promise<void> {
  if (dialect === "postgres")
    await sql.raw("alter table run_events add constraint run_events_org_id_fkey foreign key (org_id) references orgs(id) on delete cascade").execute(db);
  // SQLite keeps the table without the foreign key to orgs (it would need another rebuild); its org index comes back.
  await db.schema.createIndex("run_events_org_idx").on("run_events").columns(["org_id", "run_id"]).execute();
}
