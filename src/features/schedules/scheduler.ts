/**
 * The schedule sweep of every gateway: finds schedules whose tick is due, claims each tick once
 * across replicas (a unique row per schedule and tick time), and starts a background run as the
 * schedule's creator would (same permission, quota and concurrency checks as their own request).
 *
 * A gateway that was down for several ticks finds the schedule's stored next tick long past: it
 * claims that one tick and moves the schedule to the first tick after now, so the missed ticks
 * make one catch-up run, not one each.
 */
import type { Kysely } from "kysely";
import type { Database, SchedulesTable } from "../../db/schema";
import type { Logger } from "../../lib/logger";
import { findAgent } from "../agents/repository";
import type { RunsService } from "../runs/service";
import { nextTick } from "./cron";
import { claimTick, findDueSchedules, recordTick } from "./repository";

export interface SchedulerOptions {
  db: Kysely<Database>;
  logger: Logger;
  runs: Pick<RunsService, "accessOf" | "startBackground">;
  sweepMs: number;
  /** The clock: tests move it across ticks, downtime and DST changes. */
  now?: () => number;
}

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<number> | null = null;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.options.sweepMs);
    this.timer.unref();
  }

  /** One sweep (never two at once on this gateway); resolves to the number of runs it started. */
  sweep(): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    this.sweeping ??= this.sweepOnce()
      .catch((error) => {
        this.options.logger.warn("schedule sweep failed", { error });
        return 0;
      })
      .finally(() => {
        this.sweeping = null;
      });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const now = this.now();
    let started = 0;
    for (const row of await findDueSchedules(this.options.db, now)) {
      if (this.closed) break;
      const tickAt = row.next_run_at as number;
      let next: number | null;
      try {
        next = nextTick(row.cron, row.timezone, now);
      } catch {
        next = null;
      }
      if (!(await claimTick(this.options.db, row, tickAt, next, now))) continue;
      if (await this.fire(row, tickAt)) started++;
    }
    return started;
  }

  /** Starts the tick's run; a refusal (quota, the creator's access gone, queue full) is recorded on the schedule. */
  private async fire(row: SchedulesTable, tickAt: number): Promise<boolean> {
    const db = this.options.db;
    try {
      const access = await this.options.runs.accessOf(row);
      if (!access) throw new Error("The API key or user that created this schedule no longer has access to the organization.");
      const agent = await findAgent(db, row.org_id, row.agent_id);
      if (!agent) throw new Error("The schedule's agent no longer exists.");
      const run = await this.options.runs.startBackground({
        access,
        agent,
        message: row.message,
        conversationId: row.conversation_id ?? undefined,
        background: true,
        scheduleId: row.id,
      });
      await recordTick(db, row, tickAt, run.id, null);
      return true;
    } catch (error) {
      const message = ((error as Error)?.message ?? String(error)).slice(0, 500);
      this.options.logger.info("a schedule tick started no run", { scheduleId: row.id, tickAt, error: message });
      await recordTick(db, row, tickAt, null, message).catch(() => {});
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
  }
}
