import type { Kysely } from "kysely";
import type { Database, RunStatus, RunsTable } from "../../db/schema";
import type { RunTotals } from "../../runtime/loop";

/** The run row's counter columns from the loop's running totals. */
function countersOf(totals: RunTotals) {
  return {
    input_tokens: totals.usage.inputTokens,
    output_tokens: totals.usage.outputTokens,
    cache_read_tokens: totals.usage.cacheReadTokens,
    cache_write_tokens: totals.usage.cacheWriteTokens,
    cost: totals.cost,
    iterations: totals.iterations,
    tool_calls: totals.toolCalls,
  };
}

/** Runs: one row per chat request, its counters kept current so a crash loses no usage. */
export async function insertRun(db: Kysely<Database>, run: RunsTable): Promise<void> {
  await db.insertInto("runs").values(run).execute();
}

/** Stores the running totals (and proves the run is alive). */
export async function saveRunProgress(db: Kysely<Database>, runId: string, totals: RunTotals, now: number): Promise<void> {
  await db
    .updateTable("runs")
    .set({ ...countersOf(totals), updated_at: now })
    .where("id", "=", runId)
    .execute();
}

export async function heartbeatRun(db: Kysely<Database>, runId: string, now: number): Promise<void> {
  await db.updateTable("runs").set({ updated_at: now }).where("id", "=", runId).where("status", "=", "running").execute();
}

/** Ends a run once: false when it had already ended (another path finalized it). */
export async function endRun(db: Kysely<Database>, runId: string, status: RunStatus, totals: RunTotals, now: number): Promise<boolean> {
  const result = await db
    .updateTable("runs")
    .set({ ...countersOf(totals), status, updated_at: now, ended_at: now })
    .where("id", "=", runId)
    .where("status", "=", "running")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Runs still marked running whose last sign of life is older than `before`. */
export function findStaleRuns(db: Kysely<Database>, before: number): Promise<RunsTable[]> {
  return db.selectFrom("runs").selectAll().where("status", "=", "running").where("updated_at", "<", before).limit(500).execute();
}
