import { z } from "@hono/zod-openapi";
import type Stripe from "stripe";
import type { AppEnv } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { createRouter, iso, jsonBody, jsonResponse, OrgIdParam } from "../../http/openapi";
import type { Services } from "../../services";
import { findOrg } from "../orgs/repository";
import { effectivePlan } from "./period";
import { stripeFailure } from "./service";
import type { Context } from "hono";
import { apiRoute, orgRoute } from "../../http/routes";

const tags = ["Billing"];

/** Webhook signatures older than this are refused (Stripe's default tolerance). */
const WEBHOOK_TOLERANCE_SECONDS = 300;

const HttpUrl = z.url({ protocol: /^https?$/ }).max(2000);
const Params = z.object({ orgId: OrgIdParam });

const BillingSchema = z
  .object({
    plan: z.object({
      id: z.string(),
      name: z.string(),
      priceMonthly: z.number(),
      tokenLimit: z.number().nullable(),
      overageRate: z.number().nullable().openapi({ description: "USD per million tokens over the limit; null = hard stop" }),
    }),
    status: z.string().openapi({ description: "active, past_due, canceled, or none without a subscription" }),
    period: z.object({ start: z.string(), end: z.string() }),
    tokenUsage: z.number(),
    tokenLimit: z.number().nullable(),
    overageTokens: z.number(),
    estimatedOverageCost: z.number(),
  })
  .openapi("Billing");

/** What the operations that call Stripe can answer besides the usual. */
const stripeErrors = {
  501: "Stripe is not configured on this server (`not_implemented`)",
  502: "Stripe refused or could not be reached (`provider_error`)",
} as const;

const getBilling = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/billing",
  operationId: "billing.get",
  tags,
  summary: "Plan, token usage of the period, limit and overage",
  request: { params: Params },
  responses: { 200: jsonResponse(BillingSchema, "Billing state") },
  permission: "read",
});

const checkout = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/billing/checkout",
  operationId: "billing.checkout",
  tags,
  summary: "Create a Stripe Checkout session for a plan (owners and admin keys)",
  request: {
    params: Params,
    body: jsonBody(z.strictObject({ plan: z.string().min(1).max(40), successUrl: HttpUrl.optional(), cancelUrl: HttpUrl.optional() })),
  },
  responses: {
    200: jsonResponse(z.object({ id: z.string(), url: z.string() }), "The Checkout session"),
  },
  errors: { ...stripeErrors, 400: "Unknown plan, or one that is not sold through Stripe", 409: "The org already has a subscription (change plans in the portal)" },
  permission: "billing",
});

const portal = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/billing/portal",
  operationId: "billing.portal",
  tags,
  summary: "Create a Stripe billing-portal session (owners and admin keys)",
  request: { params: Params, body: jsonBody(z.strictObject({ returnUrl: HttpUrl.optional() })) },
  responses: { 200: jsonResponse(z.object({ url: z.string() }), "The portal session") },
  errors: stripeErrors,
  permission: "billing",
});

const webhook = apiRoute({
  method: "post",
  path: "/v1/webhooks/stripe",
  operationId: "billing.stripeWebhook",
  tags,
  summary: "Stripe webhook (signature verified on the raw body; no other auth)",
  description:
    "Called by Stripe, not by clients: the `Stripe-Signature` header is verified against `STRIPE_WEBHOOK_SECRET` on the raw body. " +
    "Each event is applied once (a redelivered event answers `duplicate: true`).",
  audience: "public",
  responses: {
    200: jsonResponse(z.object({ received: z.boolean(), duplicate: z.boolean().optional() }), "Acknowledged"),
  },
  errors: { 501: stripeErrors[501], 400: "The signature is missing or does not verify, or the payload is not a Stripe event" },
});

function requireStripe(services: Services): Stripe {
  const stripe = services.billing.stripe;
  if (!stripe) {
    throw errors.notImplemented(
      "Billing through Stripe is not configured on this server (set STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and the STRIPE_PRICE_* variables).",
    );
  }
  return stripe;
}

/** The org's billing page in the dashboard, the default return address of Checkout and the portal. */
function billingPageUrl(services: Services, orgId: string): string {
  return `${services.config.publicUrl}/orgs/${orgId}/billing`;
}

async function orgOf(c: Context<AppEnv>) {
  const org = await findOrg(c.var.services.db.kysely, c.var.access.orgId);
  if (!org) throw errors.notFound("Organization");
  return org;
}

/** Billing state, Stripe Checkout and portal sessions, and the Stripe webhook. */
export function billingRoutes() {
  const app = createRouter();

  app.openapi(getBilling, async (c) => {
    const { services } = c.var;
    const org = await orgOf(c);
    const plan = effectivePlan(org, services.plans, Date.now());
    const usage = await services.quota.periodUsage(org.id);
    const overageTokens = plan.tokenLimit !== null && plan.overageRate !== null ? Math.max(0, usage.tokensUsed - plan.tokenLimit) : 0;
    return c.json(
      {
        plan: { id: plan.id, name: plan.name, priceMonthly: plan.priceMonthly, tokenLimit: plan.tokenLimit, overageRate: plan.overageRate },
        status: org.plan_status,
        period: { start: iso(usage.periodStart), end: iso(usage.periodEnd) },
        tokenUsage: usage.tokensUsed,
        tokenLimit: plan.tokenLimit,
        overageTokens,
        estimatedOverageCost: Math.round((overageTokens / 1_000_000) * (plan.overageRate ?? 0) * 100) / 100,
      },
      200,
    );
  });

  app.openapi(checkout, async (c) => {
    const { access, services } = c.var;
    const stripe = requireStripe(services);
    const body = c.req.valid("json");
    if (!services.plans.has(body.plan)) throw errors.invalid(`Unknown plan "${body.plan}".`, "plan");
    const price = services.billing.priceOfPlan(body.plan);
    if (!price) throw errors.invalid(`The ${body.plan} plan cannot be bought through Stripe on this server (no price configured).`, "plan");
    const org = await orgOf(c);
    if (org.stripe_subscription_id && (org.plan_status === "active" || org.plan_status === "past_due")) {
      throw errors.conflict("This organization already has a subscription; change plans in the billing portal.", "plan");
    }
    const email = access.principal.kind === "user" ? access.principal.email : null;
    const customer = await services.billing.ensureCustomer(stripe, org, email);
    // The dashboard's billing page of this org: where a person who clicked "Upgrade" came from.
    const base = billingPageUrl(services, org.id);
    try {
      const session = await stripe.checkout.sessions.create({
        mode: "subscription",
        customer,
        line_items: [{ price, quantity: 1 }],
        success_url: body.successUrl ?? `${base}?checkout=success`,
        cancel_url: body.cancelUrl ?? `${base}?checkout=cancel`,
        client_reference_id: org.id,
        metadata: { orgId: org.id, plan: body.plan },
        subscription_data: { metadata: { orgId: org.id, plan: body.plan } },
      });
      if (!session.url) throw new ApiError("provider_error", "Stripe returned a Checkout session without a URL.");
      return c.json({ id: session.id, url: session.url }, 200);
    } catch (error) {
      throw error instanceof ApiError ? error : stripeFailure(error);
    }
  });

  app.openapi(portal, async (c) => {
    const { access, services } = c.var;
    const stripe = requireStripe(services);
    const body = c.req.valid("json");
    const org = await orgOf(c);
    const email = access.principal.kind === "user" ? access.principal.email : null;
    const customer = await services.billing.ensureCustomer(stripe, org, email);
    try {
      const session = await stripe.billingPortal.sessions.create({
        customer,
        return_url: body.returnUrl ?? billingPageUrl(services, org.id),
      });
      return c.json({ url: session.url }, 200);
    } catch (error) {
      throw stripeFailure(error);
    }
  });

  app.openapi(webhook, async (c) => {
    const { services } = c.var;
    const stripe = requireStripe(services);
    const secret = services.config.stripe.webhookSecret;
    if (!secret) throw errors.notImplemented("Stripe webhooks are not configured on this server (set STRIPE_WEBHOOK_SECRET).");
    const signature = c.req.header("stripe-signature");
    if (!signature) throw errors.invalid("Missing Stripe-Signature header.", "Stripe-Signature");
    const raw = await c.req.text();
    let event: Stripe.Event;
    try {
      event = await stripe.webhooks.constructEventAsync(raw, signature, secret, WEBHOOK_TOLERANCE_SECONDS);
    } catch {
      throw errors.invalid("Invalid Stripe webhook signature.", "Stripe-Signature");
    }
    const db = services.db.kysely;
    const claimed = await db
      .insertInto("stripe_events")
      .values({ id: event.id, type: event.type, received_at: Date.now() })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return c.json({ received: true, duplicate: true }, 200);
    try {
      await services.billing.handleEvent(stripe, event);
    } catch (error) {
      // Release the claim so that Stripe's retry of this event is processed, not ignored.
      await db.deleteFrom("stripe_events").where("id", "=", event.id).execute();
      services.logger.error("stripe webhook handling failed", { eventId: event.id, type: event.type, error });
      throw error instanceof ApiError ? error : new ApiError("api_error", "Could not process the event; Stripe will retry it.");
    }
    return c.json({ received: true }, 200);
  });

  return app;
}
