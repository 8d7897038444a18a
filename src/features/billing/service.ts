import { sql } from "kysely";
import Stripe from "stripe";
import type { Config } from "../../config";
import type { Db } from "../../db";
import type { OrgsTable } from "../../db/schema";
import { ApiError } from "../../http/errors";
import type { Logger } from "../../lib/logger";
import { findOrg } from "../orgs/repository";
import { effectivePlan } from "./period";
import type { PlanTable } from "./plans";

/** Name of the Stripe billing meter that overage tokens are reported to. */
export const OVERAGE_METER_EVENT = "openpaw_tokens";

/** How often the server reports overage growth to Stripe (and retries failed sends). */
export const OVERAGE_FLUSH_INTERVAL_MS = 60_000;

/** Meter events older than this are not accepted by Stripe (35 days); periods older are not reported. */
const METER_WINDOW_MS = 35 * 86_400_000;

/** Builds the Stripe SDK client, or null without STRIPE_SECRET_KEY. STRIPE_API_BASE retargets host, port and protocol. */
export function createStripeClient(config: Config["stripe"]): Stripe | null {
  if (!config.secretKey) return null;
  const options: ConstructorParameters<typeof Stripe>[1] = { maxNetworkRetries: 1, timeout: 20_000, telemetry: false };
  if (config.apiBase) {
    let url: URL;
    try {
      url = new URL(config.apiBase);
    } catch {
      throw new Error(`STRIPE_API_BASE must be an absolute URL, got "${config.apiBase}"`);
    }
    const protocol = url.protocol.replace(/:$/, "");
    if (protocol !== "http" && protocol !== "https") throw new Error(`STRIPE_API_BASE must be http(s), got "${config.apiBase}"`);
    options.protocol = protocol;
    options.host = url.hostname;
    options.port = url.port || (protocol === "https" ? 443 : 80);
  }
  return new Stripe(config.secretKey, options);
}

/** Our subscription status from Stripe's; null for a subscription not yet paid for (incomplete). */
function statusOf(status: Stripe.Subscription.Status): "active" | "past_due" | "canceled" | null {
  switch (status) {
    case "active":
    case "trialing":
      return "active";
    case "past_due":
    case "unpaid":
      return "past_due";
    case "incomplete":
      return null;
    default:
      return "canceled";
  }
}

const idOf = (v: string | { id: string } | null | undefined): string | null => (typeof v === "string" ? v : (v?.id ?? null));

/** Wraps a failed Stripe call as a 502 that names Stripe without leaking internals. */
export function stripeFailure(error: unknown): ApiError {
  const message = error instanceof Stripe.errors.StripeError ? error.message : "unreachable";
  return new ApiError("provider_error", `Stripe request failed: ${message}`);
}

/**
 * Stripe side of billing: customers, subscription sync from webhooks, and the overage outbox.
 * All Stripe state is re-read from Stripe rather than trusted from event payloads, because
 * events arrive late, twice and out of order.
 */
export class BillingService {
  readonly stripe: Stripe | null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<unknown> | null = null;

  constructor(
    private readonly config: Config,
    private readonly db: Db,
    private readonly plans: PlanTable,
    private readonly logger: Logger,
  ) {
    this.stripe = createStripeClient(config.stripe);
  }

  /** The Stripe price id of a plan, or null when the plan cannot be bought. */
  priceOfPlan(planId: string): string | null {
    if (planId === "pro") return this.config.stripe.pricePro;
    if (planId === "agency") return this.config.stripe.priceAgency;
    return null;
  }

  /** The plan a Stripe price id sells, or null for a price we do not know. */
  planOfPrice(priceId: string): string | null {
    if (priceId && priceId === this.config.stripe.pricePro) return "pro";
    if (priceId && priceId === this.config.stripe.priceAgency) return "agency";
    return null;
  }

  /** The org's Stripe customer, created once (idempotently, so concurrent checkouts share it). */
  async ensureCustomer(stripe: Stripe, org: OrgsTable, email: string | null): Promise<string> {
    if (org.stripe_customer_id) return org.stripe_customer_id;
    let customerId: string;
    try {
      const customer = await stripe.customers.create(
        { name: org.name, ...(email ? { email } : {}), metadata: { orgId: org.id } },
        { idempotencyKey: `openpaw-customer-${org.id}` },
      );
      customerId = customer.id;
    } catch (error) {
      throw stripeFailure(error);
    }
    await this.db.kysely
      .updateTable("orgs")
      .set({ stripe_customer_id: customerId, updated_at: Date.now() })
      .where("id", "=", org.id)
      .where("stripe_customer_id", "is", null)
      .execute();
    const stored = await findOrg(this.db.kysely, org.id);
    return stored?.stripe_customer_id ?? customerId;
  }

  /** Applies one verified webhook event. Unknown event types are acknowledged and ignored. */
  async handleEvent(stripe: Stripe, event: Stripe.Event): Promise<void> {
    const object = event.data.object as unknown as Record<string, any>;
    let subscriptionId: string | null = null;
    let orgHint: string | null = null;
    switch (event.type) {
      case "checkout.session.completed":
        subscriptionId = idOf(object.subscription);
        orgHint = object.client_reference_id ?? object.metadata?.orgId ?? null;
        break;
      case "customer.subscription.created":
      case "customer.subscription.updated":
      case "customer.subscription.deleted":
        subscriptionId = idOf(object.id);
        break;
      case "invoice.paid":
      case "invoice.payment_failed":
        subscriptionId = idOf(object.parent?.subscription_details?.subscription) ?? idOf(object.subscription);
        break;
      default:
        return;
    }
    if (subscriptionId) await this.syncSubscription(stripe, subscriptionId, orgHint);
  }

  /** Re-reads a subscription from Stripe and sets its org's plan, status and period from it. */
  async syncSubscription(stripe: Stripe, subscriptionId: string, orgHint: string | null = null): Promise<void> {
    const sub = await stripe.subscriptions.retrieve(subscriptionId);
    const customerId = idOf(sub.customer);
    const db = this.db.kysely;
    // Cross-tenant on purpose: a Stripe event names a customer, which names the org.
    let org = customerId
      ? await db.selectFrom("orgs").selectAll().where("stripe_customer_id", "=", customerId).executeTakeFirst()
      : undefined;
    if (!org) {
      // A customer created outside our checkout: trust the org id we put in metadata only if that org has no other customer.
      const candidate = orgHint ?? (sub.metadata?.orgId as string | undefined) ?? null;
      const found = candidate ? await findOrg(db, candidate) : undefined;
      if (found && (found.stripe_customer_id === null || found.stripe_customer_id === customerId)) org = found;
    }
    if (!org) {
      this.logger.warn("stripe subscription for no known org", { subscriptionId, customerId });
      return;
    }
    const status = statusOf(sub.status);
    if (status === null) return;
    // An old subscription's late events must not undo a newer one.
    if (org.stripe_subscription_id && org.stripe_subscription_id !== sub.id && status === "canceled") return;

    const items = sub.items?.data ?? [];
    const paidPlan = items.map((i) => this.planOfPrice(i.price?.id ?? "")).find((p) => p !== null) ?? null;
    if (paidPlan === null) this.logger.warn("stripe subscription with no known price", { subscriptionId, orgId: org.id });
    const legacy = sub as unknown as { current_period_start?: number; current_period_end?: number };
    const startS = items[0]?.current_period_start ?? legacy.current_period_start ?? null;
    const endS = items[0]?.current_period_end ?? legacy.current_period_end ?? null;
    const periodStart = startS === null ? null : startS * 1000;
    const periodEnd = endS === null ? null : endS * 1000;
    const now = Date.now();
    let plan = paidPlan ?? org.plan;
    // A canceled subscription keeps its plan until the period it paid for ends, then the default applies.
    if (status === "canceled" && (periodEnd === null || now >= periodEnd)) plan = this.plans.defaultPlanId;
    await db
      .updateTable("orgs")
      .set({
        plan,
        plan_status: status,
        stripe_customer_id: customerId ?? org.stripe_customer_id,
        stripe_subscription_id: sub.id,
        period_start: periodStart,
        period_end: periodEnd,
        updated_at: now,
      })
      .where("id", "=", org.id)
      .execute();
    this.logger.info("subscription synced", { orgId: org.id, subscriptionId: sub.id, plan, status });
  }

  /**
   * Reports overage to Stripe: first queues, per org, the overage grown since the last flush as one
   * outbox row (a compare-and-set on org_quota.overage_enqueued, in the same transaction, so no
   * token is queued twice), then sends due rows with their deterministic identifier. A failed send
   * stays queued and is retried with backoff; Stripe dedupes a resend of an identifier it already has.
   */
  flushOverage(): Promise<{ enqueued: number; sent: number; failed: number }> {
    const run = async () => {
      const enqueued = await this.enqueueOverage();
      const { sent, failed } = await this.sendOutbox();
      return { enqueued, sent, failed };
    };
    // One flush at a time per process; a second caller waits for the running one, then runs.
    const next = (this.flushing ?? Promise.resolve()).catch(() => {}).then(run);
    this.flushing = next;
    return next;
  }

  private async enqueueOverage(): Promise<number> {
    const stripe = this.stripe;
    if (!stripe) return 0;
    const now = Date.now();
    const overagePlans = this.plans
      .list()
      .filter((p) => p.overageRate !== null && p.tokenLimit !== null)
      .map((p) => p.id);
    if (overagePlans.length === 0) return 0;
    // Cross-tenant on purpose (a sweep): every org's counter of the period, each queued under its own org.
    const rows = await this.db.kysely
      .selectFrom("org_quota")
      .innerJoin("orgs", "orgs.id", "org_quota.org_id")
      .select([
        "org_quota.org_id as orgId",
        "org_quota.period_start as periodStart",
        "org_quota.tokens_used as used",
        "org_quota.overage_enqueued as enqueued",
        "orgs.plan as plan",
        "orgs.plan_status as plan_status",
        "orgs.period_start as period_start",
        "orgs.period_end as period_end",
        "orgs.stripe_customer_id as customerId",
      ])
      .where("orgs.plan", "in", overagePlans)
      .where("orgs.stripe_customer_id", "is not", null)
      .where("org_quota.period_start", ">=", now - METER_WINDOW_MS)
      .execute();
    let count = 0;
    for (const row of rows) {
      const plan = effectivePlan(row, this.plans, now);
      if (plan.overageRate === null || plan.tokenLimit === null || !row.customerId) continue;
      const overage = Math.max(0, Number(row.used) - plan.tokenLimit);
      const previous = Number(row.enqueued);
      if (overage <= previous) continue;
      const customerId = row.customerId;
      const queued = await this.db.kysely.transaction().execute(async (trx) => {
        const cas = await trx
          .updateTable("org_quota")
          .set({ overage_enqueued: overage })
          .where("org_id", "=", row.orgId)
          .where("period_start", "=", row.periodStart)
          .where("overage_enqueued", "=", previous)
          .executeTakeFirst();
        if (Number(cas.numUpdatedRows) === 0) return false;
        await trx
          .insertInto("overage_outbox")
          .values({
            identifier: `${row.orgId}:${row.periodStart}:${previous}`,
            org_id: row.orgId,
            stripe_customer_id: customerId,
            value: overage - previous,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            sent_at: null,
            last_error: null,
          })
          .execute();
        return true;
      });
      if (queued) count++;
    }
    return count;
  }

  private async sendOutbox(): Promise<{ sent: number; failed: number }> {
    const stripe = this.stripe;
    if (!stripe) return { sent: 0, failed: 0 };
    const now = Date.now();
    // Cross-tenant on purpose (a sweep): due meter events of every org, each sent for its own customer.
    const due = await this.db.kysely
      .selectFrom("overage_outbox")
      .selectAll()
      .where("sent_at", "is", null)
      .where("next_attempt_at", "<=", now)
      .orderBy("created_at")
      .limit(100)
      .execute();
    let sent = 0;
    let failed = 0;
    for (const row of due) {
      try {
        await stripe.billing.meterEvents.create(
          {
            event_name: OVERAGE_METER_EVENT,
            payload: { stripe_customer_id: row.stripe_customer_id, value: String(row.value) },
            identifier: row.identifier,
            timestamp: Math.floor(Number(row.created_at) / 1000),
          },
          // No idempotency key: Stripe would replay a 500 for it for 24 h; `identifier` dedupes resends instead.
          { maxNetworkRetries: 0 },
        );
        await this.markSent(row.identifier);
        sent++;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // Stripe refusing a duplicate identifier means an earlier attempt did arrive.
        if (error instanceof Stripe.errors.StripeInvalidRequestError && /identifier/i.test(message) && /already|duplicate/i.test(message)) {
          await this.markSent(row.identifier);
          sent++;
          continue;
        }
        failed++;
        const attempts = Number(row.attempts) + 1;
        const backoff = Math.min(3_600_000, 1000 * 2 ** Math.min(attempts, 12));
        await this.db.kysely
          .updateTable("overage_outbox")
          .set({ attempts: sql`attempts + 1`, next_attempt_at: Date.now() + backoff, last_error: message.slice(0, 500) })
          .where("identifier", "=", row.identifier)
          .execute();
        this.logger.warn("overage report to stripe failed; will retry", { identifier: row.identifier, attempts, error: message });
      }
    }
    return { sent, failed };
  }

  private async markSent(identifier: string): Promise<void> {
    await this.db.kysely
      .updateTable("overage_outbox")
      .set({ sent_at: Date.now(), last_error: null })
      .where("identifier", "=", identifier)
      .execute();
  }

  /** Starts the periodic overage flush (only with Stripe configured). */
  start(): void {
    if (!this.stripe || this.timer) return;
    this.timer = setInterval(() => {
      this.flushOverage().catch((error) => this.logger.warn("overage flush failed", { error }));
    }, OVERAGE_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and waits for a running flush; queued rows stay for the next start. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushing?.catch(() => {});
  }
}
