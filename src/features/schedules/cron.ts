/**
 * Cron expressions of schedules, read by croner in an IANA time zone. DST follows croner: a tick
 * in the hour a spring-forward skips fires at the first moment after it; a tick in the hour a
 * fall-back repeats fires once.
 */
import { Cron } from "croner";
import { errors } from "../../http/errors";
import type { Plan } from "../billing/plans";

/** How many upcoming ticks are compared to find the shortest interval of an expression. */
const SAMPLE = 200;

function cronOf(expression: string, timezone: string): Cron {
  return new Cron(expression, { timezone, paused: true });
}

/** The first tick strictly after `after` (epoch ms), or null when there is none. */
export function nextTick(expression: string, timezone: string, after: number): number | null {
  return cronOf(expression, timezone).nextRun(new Date(after))?.getTime() ?? null;
}

export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks an expression against the plan and returns its next tick after `now`. 400 naming
 * `cron` or `timezone`: not five fields, not a valid expression, never fires (`0 0 31 2 *`), fires
 * more often than the plan allows; an unknown time zone.
 */
export function checkSchedule(expression: string, timezone: string, plan: Plan, now: number): number {
  if (!isTimeZone(timezone)) throw errors.invalid(`Invalid timezone: "${timezone.slice(0, 64)}" is not an IANA time zone (e.g. "Europe/Berlin").`, "timezone");
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw errors.invalid("Invalid cron: use five fields (minute hour day-of-month month day-of-week).", "cron");
  let cron: Cron;
  try {
    cron = cronOf(expression, timezone);
  } catch (error) {
    throw errors.invalid(`Invalid cron: ${(error as Error).message.replace(/^CronPattern: /, "")}`, "cron");
  }
  const ticks = cron.nextRuns(SAMPLE, new Date(now)).map((d) => d.getTime());
  if (ticks.length === 0) throw errors.invalid("Invalid cron: the expression never fires.", "cron");
  const minMs = plan.minScheduleIntervalMinutes * 60_000;
  for (let i = 1; i < ticks.length; i++) {
    const gap = ticks[i] - ticks[i - 1];
    if (gap < minMs) {
      throw errors.invalid(
        `Invalid cron: it fires ${Math.round(gap / 60_000)} minute(s) apart; the ${plan.name} plan allows at most one tick every ${plan.minScheduleIntervalMinutes} minutes.`,
        "cron",
      );
    }
  }
  return ticks[0];
}
