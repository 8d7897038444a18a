import type { OrgsTable } from "../../db/schema";
import type { Plan, PlanTable } from "./plans";

/** The billing fields of an org that decide its plan and period. */
export type OrgBilling = Pick<OrgsTable, "plan" | "plan_status" | "period_start" | "period_end">;

/** Milliseconds in a UTC day. */
export const DAY_MS = 86_400_000;

/** Start (UTC midnight) of the day containing `ms`. */
export const floorDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** The first UTC midnight at or after `ms`. */
export const ceilDay = (ms: number): number => Math.ceil(ms / DAY_MS) * DAY_MS;

/** The UTC calendar month containing `now`, as [start, end). */
export function calendarMonth(now: number): { start: number; end: number } {
  const d = new Date(now);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/**
 * The org's current quota period, [start, end): its subscription period when it has one, else the
 * UTC calendar month. A subscription whose period ended without a renewal webhook yet (or a
 * canceled one past its end) rolls forward by whole periods so the counter never resets early;
 * a canceled subscription past its end falls back to calendar months.
 */
export function currentPeriod(org: OrgBilling, now: number): { start: number; end: number } {
  const { period_start: start, period_end: end, plan_status: status } = org;
  if (start === null || end === null || end <= start || status === "none") return calendarMonth(now);
  if (now < end) return { start, end };
  if (status === "canceled") return calendarMonth(now);
  const length = end - start;
  const skipped = Math.floor((now - start) / length);
  return { start: start + skipped * length, end: start + (skipped + 1) * length };
}

/** The plan that applies now: a canceled subscription keeps its plan until its period ends. */
export function effectivePlan(org: OrgBilling, plans: PlanTable, now: number): Plan {
  if (org.plan_status === "canceled" && (org.period_end === null || now >= org.period_end)) return plans.get(plans.defaultPlanId);
  return plans.get(org.plan);
}
