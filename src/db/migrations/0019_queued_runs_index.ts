import { type Kysely, sql } from "kysely";

/**
 * An index of the queued runs alone, by org: starting a background run counts the org's queued
 * runs (the `OPENPAW_MAX_QUEUED_RUNS_PER_ORG` check), and without it that count read every run the
 * org ever made through the `(org_id, conversation_id)` index and filtered them by status, a cost
 * that grew with the org's history on every background start (measured: POST → 202 went 2.6 →
 * 4.7 ms after the benchmark's capacity phase had left ~100k runs in its org; BENCHMARKS.md,
 * sessions 6 and 7).
 *
 * Partial, so only a run's queued stretch writes it (a foreground run never does). A query uses it
 * only when it names the status as a literal, `status = 'queued'` (`sql.lit` in the builder): a
 * bound parameter cannot prove the index's condition, on SQLite or in PostgreSQL's generic plans.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw("create index runs_org_queued_idx on runs (org_id) where status = 'queued'").execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql.raw("drop index runs_org_queued_idx").execute(db);
}
