import { readFileSync } from "node:fs";
import { z } from "zod";
import type { ToolTier } from "../../runtime/tools/types";

/** A plan of the plan table: price, token limit per period, overage and what it unlocks. */
export interface Plan {
  id: string;
  name: string;
  /** USD per month. */
  priceMonthly: number;
  /** Tokens per billing period; null = unlimited. */
  tokenLimit: number | null;
  /** USD per million tokens over the limit; null = the plan stops at its limit (402). */
  overageRate: number | null;
  toolTier: ToolTier;
  /** Most agents an org may have; null = no cap. */
  maxAgents: number | null;
  /** Concurrent chat runs per org. */
  maxConcurrentRuns: number;
  /** Sandbox workspace size in bytes (Pro tools). */
  workspaceBytes: number;
  /** Most schedules an org may have (README "Schedules"); null = no cap. */
  maxSchedules: number | null;
  /** Shortest interval between two ticks of a schedule, in minutes; 0 = none (every minute). */
  minScheduleIntervalMinutes: number;
}

const PlanSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9_-]{1,40}$/),
  name: z.string().min(1),
  priceMonthly: z.number().min(0),
  tokenLimit: z.number().int().min(0).nullable(),
  overageRate: z.number().min(0).nullable(),
  toolTier: z.enum(["free", "pro", "agency"]),
  maxAgents: z.number().int().min(1).nullable(),
  maxConcurrentRuns: z.number().int().min(1),
  workspaceBytes: z.number().int().min(0),
  // Optional so plan files written before schedules existed still load.
  maxSchedules: z.number().int().min(0).nullable().default(10),
  minScheduleIntervalMinutes: z.number().int().min(0).default(60),
});

const MiB = 1024 * 1024;

/** Built-in plans. Self-hosters usually set OPENPAW_DEFAULT_PLAN=unlimited. */
export const BUILT_IN_PLANS: Plan[] = [
  { id: "free", name: "Free", priceMonthly: 0, tokenLimit: 200_000, overageRate: null, toolTier: "free", maxAgents: 3, maxConcurrentRuns: 2, workspaceBytes: 0, maxSchedules: 2, minScheduleIntervalMinutes: 60 },
  { id: "pro", name: "Pro", priceMonthly: 29, tokenLimit: 10_000_000, overageRate: 3, toolTier: "pro", maxAgents: 25, maxConcurrentRuns: 10, workspaceBytes: 1024 * MiB, maxSchedules: 20, minScheduleIntervalMinutes: 15 },
  { id: "agency", name: "Agency", priceMonthly: 199, tokenLimit: 100_000_000, overageRate: 2, toolTier: "agency", maxAgents: null, maxConcurrentRuns: 50, workspaceBytes: 10 * 1024 * MiB, maxSchedules: 100, minScheduleIntervalMinutes: 5 },
  { id: "unlimited", name: "Unlimited (self-hosted)", priceMonthly: 0, tokenLimit: null, overageRate: null, toolTier: "agency", maxAgents: null, maxConcurrentRuns: 100, workspaceBytes: 10 * 1024 * MiB, maxSchedules: null, minScheduleIntervalMinutes: 0 },
];

/** The plan table: built-ins, with entries of OPENPAW_PLANS_FILE (a JSON array) added or replacing by id. */
export class PlanTable {
  private readonly plans = new Map<string, Plan>();

  constructor(
    overrides: Plan[] = [],
    readonly defaultPlanId = "free",
  ) {
    for (const plan of [...BUILT_IN_PLANS, ...overrides]) this.plans.set(plan.id, plan);
    if (!this.plans.has(defaultPlanId)) throw new Error(`OPENPAW_DEFAULT_PLAN names an unknown plan "${defaultPlanId}"`);
  }

  /** Loads overrides from a JSON file, failing loudly with the bad entry's path. */
  static fromFile(path: string | null, defaultPlanId: string): PlanTable {
    if (!path) return new PlanTable([], defaultPlanId);
    const parsed = z.array(PlanSchema).safeParse(JSON.parse(readFileSync(path, "utf8")));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`OPENPAW_PLANS_FILE: ${issue.path.join(".")}: ${issue.message}`);
    }
    return new PlanTable(parsed.data, defaultPlanId);
  }

  /** A plan by id; an org on a plan that was removed from the table falls back to the default. */
  get(id: string): Plan {
    return this.plans.get(id) ?? (this.plans.get(this.defaultPlanId) as Plan);
  }

  has(id: string): boolean {
    return this.plans.has(id);
  }

  list(): Plan[] {
    return [...this.plans.values()];
  }
}
