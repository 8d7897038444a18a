import type { Kysely, Transaction } from "kysely";
import { isUniqueViolation } from "../../db";
import type { Database, SchedulesTable } from "../../db/schema";
import { lockOrg } from "../orgs/repository";

type Executor = Kysely<Database> | Transaction<Database>;

/** Inserts a schedule unless the org already has `max` (null = no cap); the count and the insert hold the org's lock. */
export function insertScheduleWithinLimit(db: Kysely<Database>, row: SchedulesTable, max: number | null): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await lockOrg(trx, row.org_id);
    if (max !== null) {
      const count = await trx
        .selectFrom("schedules")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("org_id", "=", row.org_id)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= max) return false;
    }
    await trx.insertInto("schedules").values(row).execute();
    return true;
  });
}

export function listSchedules(db: Executor, orgId: string, agentId: string): Promise<SchedulesTable[]> {
  return db.selectFrom("schedules").selectAll().where("org_id", "=", orgId).where("agent_id", "=", agentId).orderBy("created_at").orderBy("id").execute();
}

export function findSchedule(db: Executor, orgId: string, agentId: string, id: string): Promise<SchedulesTable | undefined> {
  return db.selectFrom("schedules").selectAll().where("org_id", "=", orgId).where("agent_id", "=", agentId).where("id", "=", id).executeTakeFirst();
}

export type ScheduleChanges = Partial<Omit<SchedulesTable, "id" | "org_id" | "agent_id" | "created_at">> & { updated_at: number };

export async function updateSchedule(db: Executor, orgId: string, agentId: string, id: string, changes: ScheduleChanges): Promise<boolean> {
  const result = await db
    .updateTable("schedules")
    .set(changes)
    .where("org_id", "=", orgId)
    .where("agent_id", "=", agentId)
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deleteSchedule(db: Executor, orgId: string, agentId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom("schedules").where("org_id", "=", orgId).where("agent_id", "=", agentId).where("id", "=", id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Cross-tenant on purpose (the sweep of every gateway): enabled schedules whose next tick is due. */
export function findDueSchedules(db: Executor, now: number, limit = 100): Promise<SchedulesTable[]> {
  return db
    .selectFrom("schedules")
    .selectAll()
    .where("enabled", "=", 1)
    .where("next_run_at", "<=", now)
    .orderBy("next_run_at")
    .limit(limit)
    .execute();
}

/**
 * Claims the tick `tickAt` of a schedule: moves its next tick on (only if it still is `tickAt`)
 * and inserts the (schedule, tick) row, unique, in one transaction. Of the gateways racing for a
 * tick exactly one gets true.
 */
export function claimTick(db: Kysely<Database>, row: SchedulesTable, tickAt: number, next: number | null, now: number): Promise<boolean> {
  return db
    .transaction()
    .execute(async (trx) => {
      const moved = await trx
        .updateTable("schedules")
        .set({ next_run_at: next, last_run_at: now, updated_at: now })
        .where("org_id", "=", row.org_id)
        .where("id", "=", row.id)
        .where("enabled", "=", 1)
        .where("next_run_at", "=", tickAt)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return false;
      await trx.insertInto("schedule_ticks").values({ schedule_id: row.id, tick_at: tickAt, org_id: row.org_id, run_id: null, created_at: now }).execute();
      return true;
    })
    .catch((error) => {
      // The unique (schedule, tick) row: another gateway claimed this tick first.
      if (isUniqueViolation(error)) return false;
      throw error;
    });
}

/** What a claimed tick did: the run it started, or why it started none. */
export async function recordTick(db: Executor, row: SchedulesTable, tickAt: number, runId: string | null, error: string | null): Promise<void> {
  if (runId) await db.updateTable("schedule_ticks").set({ run_id: runId }).where("schedule_id", "=", row.id).where("tick_at", "=", tickAt).execute();
  await db
    .updateTable("schedules")
    .set({ ...(runId ? { last_run_id: runId } : {}), last_error: error })
    .where("org_id", "=", row.org_id)
    .where("id", "=", row.id)
    .execute();
}
