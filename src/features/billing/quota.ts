import { type Kysely, type Transaction, sql } from "kysely";
import type { Db } from "../../db";
import type { Database, OrgsTable } from "../../db/schema";
import type { CallGrant } from "../../runtime/loop";
import { errors } from "../../http/errors";
import { findOrg } from "../orgs/repository";
import { currentPeriod, effectivePlan } from "./period";
import type { Plan, PlanTable } from "./plans";
import { prepare } from "../../db/prepared";

type Executor = Kysely<Database> | Transaction<Database>;

/** What the runtime calls around each run and model call to keep orgs inside their plan's token limit. */
export interface QuotaService {
  /** The org's plan now (org rows cached for a moment: request rate limits ask on every request). */
  planOf(orgId: string): Promise<Plan>;
  /** Throws ApiError quota_exceeded_error (402) when the org's plan is hard-stop and its period usage reached the limit. */
  assertCanStart(orgId: string): Promise<void>;
  /** Throws 402 before a run starts when the plan does not leave room for its first model call (its input plus MIN_OUTPUT_TOKENS). */
  assertCallFits(orgId: string, inputTokens: number): Promise<void>;
  /** Reserves `tokens` for one model call; false when a hard-stop plan's limit would be exceeded (used + reserved + tokens > limit). One conditional statement, no read-then-write. */
  reserve(orgId: string, tokens: number): Promise<boolean>;
  /**
   * Reserves one model call: its input and as much output as the plan leaves, at most
   * `maxOutputTokens`; the call then asks the model for no more than that (`maxTokens`). Refused
   * with a message saying what is left when not even MIN_OUTPUT_TOKENS of output fit.
   */
  reserveCall(orgId: string, inputTokens: number, maxOutputTokens: number): Promise<CallGrant>;
  /** Replaces a reservation by the actual token count of the call (actual may be 0). One statement. */
  settle(orgId: string, reserved: number, actual: number): Promise<void>;
  /**
   * `settle` as a write for the caller's transaction (a run records a model call's settlement,
   * totals and message in one): the org and its period are read now, outside that transaction.
   */
  settlement(orgId: string, reserved: number, actual: number): Promise<(db: Executor) => Promise<void>>;
  /** Period usage: { periodStart, periodEnd, tokensUsed, tokensReserved } */
  periodUsage(orgId: string): Promise<{ periodStart: number; periodEnd: number; tokensUsed: number; tokensReserved: number }>;
}

/**
 * The least output a call is started with. A call capped below this would stop mid-sentence (or
 * mid tool call): better to say the plan is used up.
 */
export const MIN_OUTPUT_TOKENS = 1024;

const int = (n: number) => Math.max(0, Math.round(n)).toLocaleString("en-US");
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The limit at which a plan refuses further calls; null when it never does (unlimited or overage-billed). */
export const hardLimitOf = (plan: Plan): number | null => (plan.overageRate === null ? plan.tokenLimit : null);

function checkTokens(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
}

/**
 * The reservation upsert (one conditional statement; see `reserve`), prepared (src/db/prepared.ts)
 * since every model call runs it: arguments org, period start, tokens, now (and the limit).
 */
const reserveStatement = (withinLimit: boolean) =>
  prepare<(string | number)[], never>((db, p) =>
    db
      .insertInto("org_quota")
      .values({ org_id: p(0), period_start: p(1), tokens_used: 0, tokens_reserved: p(2), overage_enqueued: 0, updated_at: p(3) })
      .onConflict((oc) => {
        const update = oc.columns(["org_id", "period_start"]).doUpdateSet({
          tokens_reserved: sql`org_quota.tokens_reserved + excluded.tokens_reserved`,
          updated_at: sql`excluded.updated_at`,
        });
        return withinLimit ? update.where(sql<number>`org_quota.tokens_used + org_quota.tokens_reserved + excluded.tokens_reserved`, "<=", p(4)) : update;
      }),
  );
const RESERVE_UNLIMITED = reserveStatement(false);
const RESERVE_WITHIN = reserveStatement(true);
/** The settlement upsert, prepared likewise: org, period start, actual tokens, now, reserved tokens. Clamped at 0 (see `settle`). */
const SETTLE = prepare<[string, number, number, number, number], never>((db, p) =>
  db
    .insertInto("org_quota")
    .values({ org_id: p(0), period_start: p(1), tokens_used: p(2), tokens_reserved: 0, overage_enqueued: 0, updated_at: p(3) })
    .onConflict((oc) =>
      oc.columns(["org_id", "period_start"]).doUpdateSet({
        tokens_used: sql`org_quota.tokens_used + excluded.tokens_used`,
        tokens_reserved: sql`case when org_quota.tokens_reserved > ${p(4)} then org_quota.tokens_reserved - ${p(4)} else 0 end`,
        updated_at: sql`excluded.updated_at`,
      }),
    ),
);

/**
 * Quota on the `org_quota` counter row of the org's current period (created on demand by an
 * upsert). A reservation succeeds only if used + reserved + tokens stays within a hard-stop limit,
 * decided inside the one upsert statement, so concurrent runs cannot jointly pass the limit with
 * their reservations; the only overshoot left is what calls use beyond what they reserved.
 */
export class DbQuotaService implements QuotaService {
  /** Org rows read within the last moment: a run asks for its org's plan before and after every model call. */
  private readonly orgs = new Map<string, { org: OrgsTable; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly plans: PlanTable,
    private readonly orgCacheMs = 1_000,
  ) {}

  async planOf(orgId: string): Promise<Plan> {
    return (await this.context(orgId)).plan;
  }

  private async context(orgId: string) {
    const now = Date.now();
    let cached = this.orgs.get(orgId);
    if (!cached || now - cached.at > this.orgCacheMs) {
      const row = await findOrg(this.db.kysely, orgId);
      if (!row) throw errors.notFound("Organization");
      cached = { org: row, at: now };
      if (this.orgs.size > 10_000) this.orgs.clear();
      this.orgs.set(orgId, cached);
    }
    const org = cached.org;
    return { plan: effectivePlan(org, this.plans, now), period: currentPeriod(org, now), now };
  }

  async assertCanStart(orgId: string): Promise<void> {
    const { plan, period } = await this.context(orgId);
    const limit = hardLimitOf(plan);
    if (limit === null) return;
    const row = await this.db.kysely
      .selectFrom("org_quota")
      .select("tokens_used")
      .where("org_id", "=", orgId)
      .where("period_start", "=", period.start)
      .executeTakeFirst();
    if (Number(row?.tokens_used ?? 0) >= limit) {
      throw errors.quotaExceeded(
        `The ${plan.name} plan's limit of ${limit.toLocaleString("en-US")} tokens for this period is reached. ` +
          `Upgrade the plan, or wait until the period renews on ${new Date(period.end).toISOString().slice(0, 10)}.`,
      );
    }
  }

  /** What is left of a hard-stop plan's limit, or null when the plan has no hard stop. */
  private async room(orgId: string) {
    const { plan, period } = await this.context(orgId);
    const limit = hardLimitOf(plan);
    if (limit === null) return null;
    const row = await this.db.kysely
      .selectFrom("org_quota")
      .select(["tokens_used", "tokens_reserved"])
      .where("org_id", "=", orgId)
      .where("period_start", "=", period.start)
      .executeTakeFirst();
    const used = Number(row?.tokens_used ?? 0);
    const reserved = Number(row?.tokens_reserved ?? 0);
    return { plan, period, limit, used, reserved, left: limit - used - reserved };
  }

  private shortfall(room: NonNullable<Awaited<ReturnType<DbQuotaService["room"]>>>, inputTokens: number, minOutput: number): string {
    const held = room.reserved > 0 ? ` (${int(room.reserved)} more are held by calls in progress)` : "";
    return (
      `The ${room.plan.name} plan's limit of ${int(room.limit)} tokens for this period leaves ${int(room.left)} tokens${held}, ` +
      `and a model call here needs about ${int(inputTokens)} input tokens plus at least ${int(minOutput)} for the answer. ` +
      `Upgrade the plan, or wait until the period renews on ${day(room.period.end)}.`
    );
  }

  async assertCallFits(orgId: string, inputTokens: number): Promise<void> {
    checkTokens("inputTokens", inputTokens);
    const room = await this.room(orgId);
    if (room && room.left < inputTokens + MIN_OUTPUT_TOKENS) throw errors.quotaExceeded(this.shortfall(room, inputTokens, MIN_OUTPUT_TOKENS));
  }

  async reserveCall(orgId: string, inputTokens: number, maxOutputTokens: number): Promise<CallGrant> {
    checkTokens("inputTokens", inputTokens);
    checkTokens("maxOutputTokens", maxOutputTokens);
    const minOutput = Math.min(MIN_OUTPUT_TOKENS, maxOutputTokens);
    // The read only chooses the size; the reservation itself is the conditional upsert, so a
    // concurrent run taking the room first makes it fail and the size is chosen again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const room = await this.room(orgId);
      let output = maxOutputTokens;
      if (room) {
        const left = room.left - inputTokens;
        if (left < minOutput) return { ok: false, message: this.shortfall(room, inputTokens, minOutput) };
        output = Math.min(maxOutputTokens, left);
      }
      if (await this.reserve(orgId, inputTokens + output)) return { ok: true, reserved: inputTokens + output, maxTokens: output };
    }
    return {
      ok: false,
      message: "Other runs of this organization are using what is left of the plan's tokens for this period; retry when they finish, or upgrade the plan.",
    };
  }

  async reserve(orgId: string, tokens: number): Promise<boolean> {
    checkTokens("tokens", tokens);
    const { plan, period, now } = await this.context(orgId);
    const limit = hardLimitOf(plan);
    if (limit !== null && tokens > limit) return false;
    const done =
      limit === null
        ? await RESERVE_UNLIMITED.affected(this.db.kysely, [orgId, period.start, tokens, now])
        : await RESERVE_WITHIN.affected(this.db.kysely, [orgId, period.start, tokens, now, limit]);
    return done > 0;
  }

  async settle(orgId: string, reserved: number, actual: number): Promise<void> {
    await (await this.settlement(orgId, reserved, actual))(this.db.kysely);
  }

  async settlement(orgId: string, reserved: number, actual: number): Promise<(db: Executor) => Promise<void>> {
    checkTokens("reserved", reserved);
    checkTokens("actual", actual);
    const { period, now } = await this.context(orgId);
    // Clamped at 0: a run that crossed into a new period settles against a row it did not reserve on.
    return async (db) => {
      await SETTLE.execute(db, [orgId, period.start, actual, now, reserved]);
    };
  }

  async periodUsage(orgId: string) {
    const { period } = await this.context(orgId);
    const row = await this.db.kysely
      .selectFrom("org_quota")
      .select(["tokens_used", "tokens_reserved"])
      .where("org_id", "=", orgId)
      .where("period_start", "=", period.start)
      .executeTakeFirst();
    return {
      periodStart: period.start,
      periodEnd: period.end,
      tokensUsed: Number(row?.tokens_used ?? 0),
      tokensReserved: Number(row?.tokens_reserved ?? 0),
    };
  }
}
