/**
 * What the operator of an instance does across orgs: see every org with its plan and usage, set
 * an org's plan without Stripe, list users and reset a password. Shared by the operator API (a
 * session of an OPENPAW_OPERATOR_EMAILS user) and the `openpaw orgs|users` commands (shell access
 * to the machine). Nothing here is reachable by an org's own members or keys.
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database, OrgsTable } from "../../db/schema";
import { hashPassword } from "../auth/password";
import { findUserByEmail } from "../auth/repository";
import { currentPeriod, effectivePlan } from "../billing/period";
import type { PlanTable } from "../billing/plans";
import { findOrg } from "../orgs/repository";

export interface OperatorOrg {
  id: string;
  name: string;
  /** The plan that applies now (a canceled subscription past its end falls back to the default). */
  plan: { id: string; name: string };
  /** The plan stored on the org (what set-plan or Stripe last set). */
  storedPlan: string;
  planStatus: string;
  stripeSubscriptionId: string | null;
  members: number;
  agents: number;
  period: { start: number; end: number };
  tokenUsage: number;
  tokenLimit: number | null;
  runs: number;
  cost: number;
  createdAt: number;
}

export interface OperatorUser {
  id: string;
  email: string;
  name: string | null;
  orgs: Array<{ id: string; name: string; role: string }>;
  createdAt: number;
}

/** A subscription Stripe still bills: its webhooks would set the plan back. */
export const hasLiveSubscription = (org: Pick<OrgsTable, "stripe_subscription_id" | "plan_status">) =>
  org.stripe_subscription_id !== null && (org.plan_status === "active" || org.plan_status === "past_due");

export class PlanChangeError extends Error {
  constructor(
    readonly reason: "unknown_plan" | "unknown_org" | "live_subscription",
    message: string,
  ) {
    super(message);
  }
}

export class OperatorService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly plans: PlanTable,
    private readonly passwordHashCost: number,
  ) {}

  /** Orgs, newest first, with their plan and this period's usage; `plan` filters by the plan in effect. */
  async listOrgs(options: { page: number; limit: number; plan?: string; query?: string }): Promise<{ rows: OperatorOrg[]; total: number }> {
    let base = this.db.selectFrom("orgs");
    if (options.plan) base = base.where("plan", "=", options.plan);
    if (options.query) {
      const q = `%${options.query.toLowerCase()}%`;
      base = base.where((eb) => eb.or([eb(eb.fn("lower", ["name"]), "like", q), eb(eb.fn("lower", ["id"]), "like", q)]));
    }
    const [rows, count] = await Promise.all([
      base
        .selectAll()
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(options.limit)
        .offset((options.page - 1) * options.limit)
        .execute(),
      base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    ]);
    return { rows: await this.describe(rows), total: Number(count.n) };
  }

  async getOrg(orgId: string): Promise<OperatorOrg | undefined> {
    const org = await findOrg(this.db, orgId);
    return org ? (await this.describe([org]))[0] : undefined;
  }

  /**
   * Sets an org's plan. Refused for an org Stripe bills (its next webhook would undo it) unless
   * `force`; otherwise the org leaves any ended subscription behind (status `none`, calendar-month
   * periods), so the plan applies at once and stays.
   */
  async setPlan(orgId: string, planId: string, options: { force?: boolean } = {}): Promise<{ before: string; after: OperatorOrg }> {
    if (!this.plans.has(planId)) {
      throw new PlanChangeError("unknown_plan", `Unknown plan "${planId}". Plans: ${this.plans.list().map((p) => p.id).join(", ")}.`);
    }
    const org = await findOrg(this.db, orgId);
    if (!org) throw new PlanChangeError("unknown_org", `No organization ${orgId}.`);
    const live = hasLiveSubscription(org);
    if (live && !options.force) {
      throw new PlanChangeError(
        "live_subscription",
        `${org.name} (${org.id}) has a live Stripe subscription (${org.stripe_subscription_id}), whose next event would set its plan back: change the plan in Stripe, or pass force to set it anyway.`,
      );
    }
    const before = effectivePlan(org, this.plans, Date.now()).id;
    await this.db
      .updateTable("orgs")
      .set(live ? { plan: planId, updated_at: Date.now() } : { plan: planId, plan_status: "none", period_start: null, period_end: null, updated_at: Date.now() })
      .where("id", "=", orgId)
      .execute();
    return { before, after: (await this.getOrg(orgId)) as OperatorOrg };
  }

  /** Every org without a live subscription whose plan in effect is `from` (any plan when absent) moves to `planId`. */
  async setPlanOfAll(planId: string, from?: string): Promise<string[]> {
    if (!this.plans.has(planId)) throw new PlanChangeError("unknown_plan", `Unknown plan "${planId}".`);
    const now = Date.now();
    const orgs = await this.db.selectFrom("orgs").selectAll().execute();
    const moved: string[] = [];
    for (const org of orgs) {
      if (hasLiveSubscription(org)) continue;
      const current = effectivePlan(org, this.plans, now).id;
      if (current === planId || (from && current !== from)) continue;
      await this.setPlan(org.id, planId);
      moved.push(org.id);
    }
    return moved;
  }

  /** Instance-wide figures: orgs by plan, users, and usage of the calendar month to date. */
  async summary(now = Date.now()) {
    const d = new Date(now);
    const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    const [orgs, users, usage] = await Promise.all([
      this.db.selectFrom("orgs").select(["plan", "plan_status", "period_start", "period_end"]).execute(),
      this.db.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
      this.db
        .selectFrom("usage_daily")
        .select((eb) => [eb.fn.sum<number>("runs").as("runs"), eb.fn.sum<number>("tokens").as("tokens"), eb.fn.sum<number>("cost").as("cost")])
        .where("day", ">=", monthStart)
        .executeTakeFirstOrThrow(),
    ]);
    const byPlan = new Map<string, number>();
    for (const org of orgs) {
      const plan = effectivePlan(org, this.plans, now).id;
      byPlan.set(plan, (byPlan.get(plan) ?? 0) + 1);
    }
    return {
      orgs: orgs.length,
      users: Number(users.n),
      plans: this.plans.list().map((p) => ({ id: p.id, name: p.name, orgs: byPlan.get(p.id) ?? 0, tokenLimit: p.tokenLimit, priceMonthly: p.priceMonthly })),
      defaultPlan: this.plans.defaultPlanId,
      month: { start: monthStart, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) },
      totals: { runs: Number(usage.runs ?? 0), tokens: Number(usage.tokens ?? 0), cost: Number(usage.cost ?? 0) },
    };
  }

  async listUsers(options: { page: number; limit: number }): Promise<{ rows: OperatorUser[]; total: number }> {
    const [users, count] = await Promise.all([
      this.db
        .selectFrom("users")
        .select(["id", "email", "name", "created_at"])
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(options.limit)
        .offset((options.page - 1) * options.limit)
        .execute(),
      this.db.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    ]);
    const memberships = users.length
      ? await this.db
          .selectFrom("memberships")
          .innerJoin("orgs", "orgs.id", "memberships.org_id")
          .select(["memberships.user_id as userId", "orgs.id as id", "orgs.name as name", "memberships.role as role"])
          .where(
            "memberships.user_id",
            "in",
            users.map((u) => u.id),
          )
          .execute()
      : [];
    return {
      rows: users.map((u) => ({
        id: u.id,
        email: u.email,
        name: u.name,
        orgs: memberships.filter((m) => m.userId === u.id).map(({ userId: _, ...m }) => m),
        createdAt: Number(u.created_at),
      })),
      total: Number(count.n),
    };
  }

  /**
   * Sets a new password (a random one when none is given, returned once) and signs the user out
   * everywhere: whoever knew the old password or held a session loses access.
   */
  async resetPassword(email: string, password?: string): Promise<{ userId: string; password: string; generated: boolean }> {
    const user = await findUserByEmail(this.db, email.trim().toLowerCase());
    if (!user) throw new Error(`No user with the email ${email}.`);
    const next = password ?? randomBytes(18).toString("base64url");
    if (next.length < 8) throw new Error("The password must be at least 8 characters.");
    const hash = await hashPassword(next, this.passwordHashCost);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable("users").set({ password_hash: hash, updated_at: Date.now() }).where("id", "=", user.id).execute();
      await trx.deleteFrom("sessions").where("user_id", "=", user.id).execute();
    });
    return { userId: user.id, password: next, generated: password === undefined };
  }

  /** Members, agents and this period's usage of each org, in a few grouped queries. */
  private async describe(orgs: OrgsTable[]): Promise<OperatorOrg[]> {
    if (orgs.length === 0) return [];
    const now = Date.now();
    const ids = orgs.map((o) => o.id);
    const periods = new Map(orgs.map((o) => [o.id, currentPeriod(o, now)]));
    const earliest = Math.min(...[...periods.values()].map((p) => p.start));
    const [members, agents, quota, daily] = await Promise.all([
      this.db.selectFrom("memberships").select(["org_id", (eb) => eb.fn.countAll<number>().as("n")]).where("org_id", "in", ids).groupBy("org_id").execute(),
      this.db.selectFrom("agents").select(["org_id", (eb) => eb.fn.countAll<number>().as("n")]).where("org_id", "in", ids).groupBy("org_id").execute(),
      this.db.selectFrom("org_quota").select(["org_id", "period_start", "tokens_used"]).where("org_id", "in", ids).where("period_start", ">=", earliest).execute(),
      this.db
        .selectFrom("usage_daily")
        .select(["org_id", "day", "runs", "cost"])
        .where("org_id", "in", ids)
        .where("day", ">=", earliest)
        .execute(),
    ]);
    const count = (rows: Array<{ org_id: string; n: number }>, id: string) => Number(rows.find((r) => r.org_id === id)?.n ?? 0);
    return orgs.map((org) => {
      const plan = effectivePlan(org, this.plans, now);
      const period = periods.get(org.id) as { start: number; end: number };
      const days = daily.filter((d) => d.org_id === org.id && Number(d.day) >= period.start);
      return {
        id: org.id,
        name: org.name,
        plan: { id: plan.id, name: plan.name },
        storedPlan: org.plan,
        planStatus: org.plan_status,
        stripeSubscriptionId: org.stripe_subscription_id,
        members: count(members, org.id),
        agents: count(agents, org.id),
        period,
        tokenUsage: Number(quota.find((q) => q.org_id === org.id && Number(q.period_start) === period.start)?.tokens_used ?? 0),
        tokenLimit: plan.tokenLimit,
        runs: days.reduce((n, d) => n + Number(d.runs), 0),
        cost: days.reduce((n, d) => n + Number(d.cost), 0),
        createdAt: Number(org.created_at),
      };
    });
  }
}
