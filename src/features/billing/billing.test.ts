import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeStripe, startFakeStripe } from "../../../test/fakes/stripe";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { ApiError } from "../../http/errors";
import { BUILT_IN_PLANS } from "./plans";

const DAY = 86_400_000;

/** A plans file with small limits so tests can reach them: free stops at 50,000, pro bills over 10,000. */
function smallPlansFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), "openpaw-plans-")), "plans.json");
  const free = BUILT_IN_PLANS.find((p) => p.id === "free");
  const pro = BUILT_IN_PLANS.find((p) => p.id === "pro");
  writeFileSync(
    path,
    JSON.stringify([
      { ...free, tokenLimit: 50_000 },
      { ...pro, tokenLimit: 10_000 },
    ]),
  );
  return path;
}

const monthStart = (now = Date.now()) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

describe("quota and billing without Stripe", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  beforeAll(async () => {
    h = await createHarness({ OPENPAW_PLANS_FILE: smallPlansFile() });
    a = await h.signup({ orgName: "Quota A" });
    b = await h.signup({ orgName: "Quota B" });
  });
  afterAll(() => h.close());

  it("20 parallel runs reserving 5,000 against a 50,000 hard limit: exactly 10 fit, and the total stays within it", async () => {
    const { quota } = h.services;
    const results = await Promise.all(Array.from({ length: 20 }, () => quota.reserve(a.orgId, 5_000)));
    expect(results.filter(Boolean)).toHaveLength(10);
    expect(await quota.periodUsage(a.orgId)).toMatchObject({ tokensUsed: 0, tokensReserved: 50_000, periodStart: monthStart() });
    await Promise.all(results.filter(Boolean).map(() => quota.settle(a.orgId, 5_000, 5_000)));
    expect(await quota.periodUsage(a.orgId)).toMatchObject({ tokensUsed: 50_000, tokensReserved: 0 });
    expect(await quota.reserve(a.orgId, 1)).toBe(false);
    const error = await quota.assertCanStart(a.orgId).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(402);
    expect(error.type).toBe("quota_exceeded_error");
  });

  it("concurrent runs looping reserve/settle overshoot by at most what calls used beyond their reservation", async () => {
    const org = await h.signup();
    const { quota } = h.services;
    const run = async () => {
      try {
        await quota.assertCanStart(org.orgId);
      } catch {
        return;
      }
      while (await quota.reserve(org.orgId, 3_000)) {
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        // Each call uses 500 more than it reserved: the only source of overshoot.
        await quota.settle(org.orgId, 3_000, 3_500);
      }
    };
    await Promise.all(Array.from({ length: 20 }, run));
    const usage = await quota.periodUsage(org.orgId);
    expect(usage.tokensReserved).toBe(0);
    expect(usage.tokensUsed).toBeGreaterThan(40_000);
    expect(usage.tokensUsed).toBeLessThanOrEqual(50_000 + 20 * 500);
  });

  it("settle releases a reservation even when the call used nothing; invalid counts are refused", async () => {
    const org = await h.signup();
    const { quota } = h.services;
    expect(await quota.reserve(org.orgId, 50_000)).toBe(true);
    expect(await quota.reserve(org.orgId, 1)).toBe(false);
    await quota.settle(org.orgId, 50_000, 0);
    expect(await quota.periodUsage(org.orgId)).toMatchObject({ tokensUsed: 0, tokensReserved: 0 });
    expect(await quota.reserve(org.orgId, 50_001)).toBe(false);
    await expect(quota.reserve(org.orgId, -1)).rejects.toThrow(RangeError);
    await expect(quota.settle(org.orgId, 1, 1.5)).rejects.toThrow(RangeError);
    await expect(quota.assertCanStart("org_missing")).rejects.toMatchObject({ status: 404 });
  });

  it("plans without a hard stop always reserve (unlimited, and overage-billed pro)", async () => {
    const db = h.services.db.kysely;
    for (const plan of ["unlimited", "pro"]) {
      const org = await h.signup();
      await db.updateTable("orgs").set({ plan }).where("id", "=", org.orgId).execute();
      expect(await h.services.quota.reserve(org.orgId, 10_000_000)).toBe(true);
      await h.services.quota.settle(org.orgId, 10_000_000, 10_000_000);
      await h.services.quota.assertCanStart(org.orgId);
    }
  });

  it("GET billing reports plan, period, usage and overage", async () => {
    const res = await h.request("GET", `/v1/orgs/${a.orgId}/billing`, { cookie: a.cookie });
    expect(res.status).toBe(200);
    const start = monthStart();
    const d = new Date(start);
    expect(res.body).toEqual({
      plan: { id: "free", name: "Free", priceMonthly: 0, tokenLimit: 50_000, overageRate: null },
      status: "none",
      period: { start: new Date(start).toISOString(), end: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString() },
      tokenUsage: 50_000,
      tokenLimit: 50_000,
      overageTokens: 0,
      estimatedOverageCost: 0,
    });

    const pro = await h.signup();
    await h.services.db.kysely.updateTable("orgs").set({ plan: "pro" }).where("id", "=", pro.orgId).execute();
    await h.services.quota.settle(pro.orgId, 0, 510_000);
    const key = await h.createKey(pro, { scopes: ["read"] });
    const bill = await h.request("GET", `/v1/orgs/${pro.orgId}/billing`, { key: key.key });
    expect(bill.body).toMatchObject({
      plan: { id: "pro", priceMonthly: 29, tokenLimit: 10_000, overageRate: 3 },
      tokenUsage: 510_000,
      overageTokens: 500_000,
      estimatedOverageCost: 1.5,
    });
  });

  it("billing routes: 401 without credentials, 403 for a chat key, 404 for another org", async () => {
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/billing`)).status).toBe(401);
    const chat = await h.createKey(a, { scopes: ["chat"] });
    const denied = await h.request("GET", `/v1/orgs/${a.orgId}/billing`, { key: chat.key });
    expect(denied.status).toBe(403);
    expect(denied.body.error.type).toBe("permission_error");
    const keyB = await h.createKey(b, { scopes: ["admin"] });
    for (const [method, path, body] of [
      ["GET", `/v1/orgs/${a.orgId}/billing`, undefined],
      ["POST", `/v1/orgs/${a.orgId}/billing/checkout`, { plan: "pro" }],
      ["POST", `/v1/orgs/${a.orgId}/billing/portal`, {}],
    ] as const) {
      for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
        const res = await h.request(method, path, { ...cred, body });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
  });

  it("without Stripe, checkout, portal and the webhook answer 501; the rest works", async () => {
    for (const [path, body] of [
      [`/v1/orgs/${a.orgId}/billing/checkout`, { plan: "pro" }],
      [`/v1/orgs/${a.orgId}/billing/portal`, {}],
    ] as const) {
      const res = await h.request("POST", path, { cookie: a.cookie, body });
      expect(res.status, path).toBe(501);
      expect(res.body.error.type).toBe("not_implemented_error");
      expect(res.body.error.message).toMatch(/STRIPE_SECRET_KEY/);
    }
    const hook = await h.request("POST", "/v1/webhooks/stripe", { raw: "{}", headers: { "stripe-signature": "t=1,v1=x" } });
    expect(hook.status).toBe(501);
    expect(await h.services.billing.flushOverage()).toEqual({ enqueued: 0, sent: 0, failed: 0 });
  });

  it("the OpenAPI document describes the usage and billing routes", async () => {
    const doc = await h.request("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    for (const path of [
      "/v1/orgs/{orgId}/usage",
      "/v1/orgs/{orgId}/usage/summary",
      "/v1/orgs/{orgId}/billing",
      "/v1/orgs/{orgId}/billing/checkout",
      "/v1/orgs/{orgId}/billing/portal",
      "/v1/webhooks/stripe",
    ]) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
  });
});

describe("Stripe checkout, portal, webhooks and overage", () => {
  let fake: FakeStripe;
  let h: Harness;
  let a: Account;
  const secret = "whsec_test_secret";

  beforeAll(async () => {
    fake = await startFakeStripe("sk_test_x");
    h = await createHarness({
      STRIPE_SECRET_KEY: "sk_test_x",
      STRIPE_WEBHOOK_SECRET: secret,
      STRIPE_API_BASE: fake.url,
      STRIPE_PRICE_PRO: "price_pro",
      STRIPE_PRICE_AGENCY: "price_agency",
      OPENPAW_PLANS_FILE: smallPlansFile(),
    });
    a = await h.signup({ orgName: "Stripe A" });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  const org = (id: string) => h.services.db.kysely.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const deliver = (event: unknown, options: { secret?: string; timestamp?: number } = {}) => {
    const { payload, signature } = fake.sign(event, options.secret ?? secret, options.timestamp);
    return h.request("POST", "/v1/webhooks/stripe", {
      raw: payload,
      headers: { "stripe-signature": signature, "content-type": "application/json" },
    });
  };

  it("checkout creates the customer once and a subscription-mode session for the plan's price", async () => {
    const res = await h.request("POST", `/v1/orgs/${a.orgId}/billing/checkout`, { cookie: a.cookie, body: { plan: "pro" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: expect.stringMatching(/^cs_test_/), url: expect.stringContaining(res.body.id) });
    const customers = fake.requests.filter((r) => r.path === "/v1/customers");
    expect(customers).toHaveLength(1);
    expect(customers[0].body).toMatchObject({ name: "Stripe A", email: a.email, metadata: { orgId: a.orgId } });
    expect(customers[0].headers.authorization).toBe("Bearer sk_test_x");
    const stored = await org(a.orgId);
    expect(stored.stripe_customer_id).toMatch(/^cus_/);
    const session = fake.requests.filter((r) => r.path === "/v1/checkout/sessions").at(-1);
    expect(session?.body).toEqual({
      mode: "subscription",
      customer: stored.stripe_customer_id,
      line_items: [{ price: "price_pro", quantity: "1" }],
      success_url: `http://localhost:8787/orgs/${a.orgId}/billing?checkout=success`,
      cancel_url: `http://localhost:8787/orgs/${a.orgId}/billing?checkout=cancel`,
      client_reference_id: a.orgId,
      metadata: { orgId: a.orgId, plan: "pro" },
      subscription_data: { metadata: { orgId: a.orgId, plan: "pro" } },
    });

    const again = await h.request("POST", `/v1/orgs/${a.orgId}/billing/checkout`, {
      cookie: a.cookie,
      body: { plan: "agency", successUrl: "https://app.example.com/ok", cancelUrl: "https://app.example.com/no" },
    });
    expect(again.status).toBe(200);
    expect(fake.requests.filter((r) => r.path === "/v1/customers")).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path === "/v1/checkout/sessions").at(-1)?.body).toMatchObject({
      customer: stored.stripe_customer_id,
      line_items: [{ price: "price_agency" }],
      success_url: "https://app.example.com/ok",
      cancel_url: "https://app.example.com/no",
    });
  });

  it("checkout validates the plan and URLs", async () => {
    const before = fake.requests.length;
    for (const [body, param] of [
      [{ plan: "enterprise" }, "plan"],
      [{ plan: "free" }, "plan"],
      [{ plan: "unlimited" }, "plan"],
      [{}, "plan"],
      [{ plan: "pro", successUrl: "javascript:alert(1)" }, "successUrl"],
      [{ plan: "pro", cancelUrl: "not a url" }, "cancelUrl"],
      [{ plan: "pro", coupon: "x" }, "coupon"],
    ] as const) {
      const res = await h.request("POST", `/v1/orgs/${a.orgId}/billing/checkout`, { cookie: a.cookie, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param, JSON.stringify(body)).toBe(param);
    }
    expect(fake.requests.length).toBe(before);
  });

  it("only owners and admin keys may start checkout or open the portal", async () => {
    const member = await h.signup();
    await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: member.email, role: "member" } });
    const admin = await h.signup();
    await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: admin.email, role: "admin" } });
    const readKey = await h.createKey(a, { scopes: ["read"] });
    const writeKey = await h.createKey(a, { scopes: ["write"] });
    for (const path of [`/v1/orgs/${a.orgId}/billing/checkout`, `/v1/orgs/${a.orgId}/billing/portal`]) {
      const body = path.endsWith("checkout") ? { plan: "pro" } : {};
      for (const cred of [{ cookie: member.cookie }, { cookie: admin.cookie }, { key: readKey.key }, { key: writeKey.key }]) {
        const res = await h.request("POST", path, { ...cred, body });
        expect(res.status, path).toBe(403);
        expect(res.body.error.type).toBe("permission_error");
      }
    }
    const adminKey = await h.createKey(a, { scopes: ["admin"] });
    expect((await h.request("POST", `/v1/orgs/${a.orgId}/billing/portal`, { key: adminKey.key, body: {} })).status).toBe(200);
  });

  it("the default return URLs are the org's billing page, which exists", async () => {
    const page = await h.request("GET", `/orgs/${a.orgId}/billing?checkout=success`, { cookie: a.cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain("Billing");
    await h.request("POST", `/v1/orgs/${a.orgId}/billing/portal`, { cookie: a.cookie, body: {} });
    const req = fake.requests.filter((r) => r.path === "/v1/billing_portal/sessions").at(-1);
    expect(req?.body.return_url).toBe(`http://localhost:8787/orgs/${a.orgId}/billing`);
  });

  it("the portal session is for the org's customer with the return URL", async () => {
    const res = await h.request("POST", `/v1/orgs/${a.orgId}/billing/portal`, {
      cookie: a.cookie,
      body: { returnUrl: "https://app.example.com/back" },
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toMatch(/^https:\/\/billing\.stripe\.test\//);
    const req = fake.requests.filter((r) => r.path === "/v1/billing_portal/sessions").at(-1);
    expect(req?.body).toEqual({ customer: (await org(a.orgId)).stripe_customer_id, return_url: "https://app.example.com/back" });
    const bad = await h.request("POST", `/v1/orgs/${a.orgId}/billing/portal`, { cookie: a.cookie, body: { returnUrl: "ftp://x" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("returnUrl");
  });

  it("a webhook with a bad, missing or stale signature is refused and changes nothing", async () => {
    const o = await h.signup();
    const before = await org(o.orgId);
    const event = fake.event("checkout.session.completed", {
      id: "cs_x",
      object: "checkout.session",
      client_reference_id: o.orgId,
      subscription: "sub_none",
    });
    const wrongSecret = await deliver(event, { secret: "whsec_other" });
    expect(wrongSecret.status).toBe(400);
    expect(wrongSecret.body.error.type).toBe("invalid_request_error");
    const stale = await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(stale.status).toBe(400);
    const missing = await h.request("POST", "/v1/webhooks/stripe", {
      raw: JSON.stringify(event),
      headers: { "content-type": "application/json" },
    });
    expect(missing.status).toBe(400);
    const { payload, signature } = fake.sign(event, secret);
    const tampered = await h.request("POST", "/v1/webhooks/stripe", {
      raw: payload.replace(o.orgId, a.orgId),
      headers: { "stripe-signature": signature },
    });
    expect(tampered.status).toBe(400);
    expect(await org(o.orgId)).toEqual(before);
    const stored = await h.services.db.kysely
      .selectFrom("stripe_events")
      .selectAll()
      .where("id", "=", event.id as string)
      .execute();
    expect(stored).toHaveLength(0);
  });

  it("checkout completion upgrades the org from the subscription as Stripe reports it; duplicates are ignored", async () => {
    const o = await h.signup();
    await h.request("POST", `/v1/orgs/${o.orgId}/billing/checkout`, { cookie: o.cookie, body: { plan: "pro" } });
    const customer = (await org(o.orgId)).stripe_customer_id as string;
    const start = Date.now() - DAY;
    const end = start + 30 * DAY;
    const periodStart = Math.floor(start / 1000) * 1000;
    const periodEnd = Math.floor(end / 1000) * 1000;
    fake.setSubscription({ id: "sub_1", customer, status: "active", price: "price_pro", periodStart: start, periodEnd: end });
    const event = fake.event("checkout.session.completed", {
      id: "cs_1",
      object: "checkout.session",
      customer,
      client_reference_id: o.orgId,
      subscription: "sub_1",
    });
    const res = await deliver(event);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true });
    expect(await org(o.orgId)).toMatchObject({
      plan: "pro",
      plan_status: "active",
      stripe_subscription_id: "sub_1",
      period_start: periodStart,
      period_end: periodEnd,
    });
    const billing = await h.request("GET", `/v1/orgs/${o.orgId}/billing`, { cookie: o.cookie });
    expect(billing.body).toMatchObject({
      plan: { id: "pro" },
      status: "active",
      period: { start: new Date(periodStart).toISOString(), end: new Date(periodEnd).toISOString() },
    });

    // A redelivery is acknowledged and not processed again (no second read of the subscription).
    const reads = fake.requests.filter((r) => r.path === "/v1/subscriptions/sub_1").length;
    fake.setSubscription({ id: "sub_1", customer, status: "past_due", price: "price_pro", periodStart: start, periodEnd: end });
    const dup = await deliver(event);
    expect(dup.status).toBe(200);
    expect(dup.body).toEqual({ received: true, duplicate: true });
    expect(fake.requests.filter((r) => r.path === "/v1/subscriptions/sub_1").length).toBe(reads);
    expect((await org(o.orgId)).plan_status).toBe("active");

    // A checkout with an active subscription is refused: plan changes go through the portal.
    const conflict = await h.request("POST", `/v1/orgs/${o.orgId}/billing/checkout`, { cookie: o.cookie, body: { plan: "agency" } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.param).toBe("plan");
  });

  it("out-of-order events converge on Stripe's current state; cancellation falls back at period end", async () => {
    const o = await h.signup();
    await h.request("POST", `/v1/orgs/${o.orgId}/billing/portal`, { cookie: o.cookie, body: {} });
    const customer = (await org(o.orgId)).stripe_customer_id as string;
    const start = Date.now() - 10 * DAY;
    const end = start + 30 * DAY;
    // Stripe already moved the subscription to past_due when the late "created" event arrives.
    fake.setSubscription({ id: "sub_2", customer, status: "past_due", price: "price_agency", periodStart: start, periodEnd: end });
    const failed = fake.event("invoice.payment_failed", {
      id: "in_1",
      object: "invoice",
      customer,
      parent: { type: "subscription_details", subscription_details: { subscription: "sub_2" } },
    });
    const created = fake.event("customer.subscription.created", { id: "sub_2", object: "subscription", customer, status: "active" });
    expect((await deliver(failed)).status).toBe(200);
    expect((await deliver(created)).status).toBe(200);
    expect(await org(o.orgId)).toMatchObject({ plan: "agency", plan_status: "past_due" });

    fake.setSubscription({ id: "sub_2", customer, status: "active", price: "price_agency", periodStart: start, periodEnd: end });
    expect((await deliver(fake.event("invoice.paid", { id: "in_2", object: "invoice", customer, subscription: "sub_2" }))).status).toBe(
      200,
    );
    expect(await org(o.orgId)).toMatchObject({ plan: "agency", plan_status: "active" });

    // Canceled with time left in the paid period: keeps the plan until the end.
    fake.setSubscription({ id: "sub_2", customer, status: "canceled", price: "price_agency", periodStart: start, periodEnd: end });
    await deliver(fake.event("customer.subscription.deleted", { id: "sub_2", object: "subscription", customer }));
    expect(await org(o.orgId)).toMatchObject({ plan: "agency", plan_status: "canceled" });
    expect((await h.request("GET", `/v1/orgs/${o.orgId}/billing`, { cookie: o.cookie })).body.plan.id).toBe("agency");
    // Once the period is over, the default plan applies (even before any further event).
    await h.services.db.kysely
      .updateTable("orgs")
      .set({ period_end: Date.now() - 1000 })
      .where("id", "=", o.orgId)
      .execute();
    expect((await h.request("GET", `/v1/orgs/${o.orgId}/billing`, { cookie: o.cookie })).body.plan.id).toBe("free");
    // A canceled subscription whose period already ended switches the stored plan too.
    fake.setSubscription({
      id: "sub_2",
      customer,
      status: "canceled",
      price: "price_agency",
      periodStart: start - 30 * DAY,
      periodEnd: start,
    });
    await deliver(fake.event("customer.subscription.deleted", { id: "sub_2", object: "subscription", customer }));
    expect(await org(o.orgId)).toMatchObject({ plan: "free", plan_status: "canceled" });

    // A new subscription, then a late cancellation of an old one: the new one stands.
    fake.setSubscription({
      id: "sub_3",
      customer,
      status: "active",
      price: "price_pro",
      periodStart: Date.now() - DAY,
      periodEnd: Date.now() + 29 * DAY,
    });
    await deliver(fake.event("customer.subscription.created", { id: "sub_3", object: "subscription", customer }));
    await deliver(fake.event("customer.subscription.deleted", { id: "sub_2", object: "subscription", customer }));
    expect(await org(o.orgId)).toMatchObject({ plan: "pro", plan_status: "active", stripe_subscription_id: "sub_3" });
  });

  it("a webhook whose processing fails is not recorded, so Stripe's retry is processed", async () => {
    const o = await h.signup();
    await h.request("POST", `/v1/orgs/${o.orgId}/billing/portal`, { cookie: o.cookie, body: {} });
    const customer = (await org(o.orgId)).stripe_customer_id as string;
    const event = fake.event("customer.subscription.updated", { id: "sub_4", object: "subscription", customer });
    fake.failNext("/v1/subscriptions/sub_4", 2);
    fake.setSubscription({
      id: "sub_4",
      customer,
      status: "active",
      price: "price_pro",
      periodStart: Date.now() - DAY,
      periodEnd: Date.now() + 29 * DAY,
    });
    const first = await deliver(event);
    expect(first.status).toBe(500);
    expect((await org(o.orgId)).plan).toBe("free");
    const retry = await deliver(event);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ received: true });
    expect((await org(o.orgId)).plan).toBe("pro");
  });

  it("overage is reported as meter events with deterministic identifiers, retried without double counting", async () => {
    const o = await h.signup();
    const db = h.services.db.kysely;
    const periodStart = Date.now() - DAY;
    await db
      .updateTable("orgs")
      .set({
        plan: "pro",
        plan_status: "active",
        stripe_customer_id: "cus_meter",
        stripe_subscription_id: "sub_meter",
        period_start: periodStart,
        period_end: periodStart + 30 * DAY,
      })
      .where("id", "=", o.orgId)
      .execute();
    const { quota, billing } = h.services;
    await quota.settle(o.orgId, 0, 9_000);
    expect((await billing.flushOverage()).enqueued).toBe(0);
    await quota.settle(o.orgId, 0, 6_000); // 15,000 used: 5,000 over the 10,000 limit.
    expect(await billing.flushOverage()).toEqual({ enqueued: 1, sent: 1, failed: 0 });
    const first = fake.meterEvents.get(`${o.orgId}:${periodStart}:0`);
    expect(first).toMatchObject({ customer: "cus_meter", value: 5_000, eventName: "openpaw_tokens" });
    const request = fake.requests.filter((r) => r.path === "/v1/billing/meter_events").at(-1);
    expect(request?.body).toMatchObject({
      event_name: "openpaw_tokens",
      identifier: `${o.orgId}:${periodStart}:0`,
      payload: { stripe_customer_id: "cus_meter", value: "5000" },
    });
    expect(await billing.flushOverage()).toEqual({ enqueued: 0, sent: 0, failed: 0 });

    // Stripe fails: the event stays queued and a later flush sends it.
    await quota.settle(o.orgId, 0, 2_000);
    fake.failNext("/v1/billing/meter_events", 1);
    expect(await billing.flushOverage()).toEqual({ enqueued: 1, sent: 0, failed: 1 });
    const pending = await db.selectFrom("overage_outbox").selectAll().where("org_id", "=", o.orgId).where("sent_at", "is", null).execute();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ identifier: `${o.orgId}:${periodStart}:5000`, value: 2_000, attempts: 1 });
    expect(Number(pending[0].next_attempt_at)).toBeGreaterThan(Date.now());
    expect((await billing.flushOverage()).sent).toBe(0); // backoff not over yet
    await db.updateTable("overage_outbox").set({ next_attempt_at: Date.now() }).where("org_id", "=", o.orgId).execute();
    expect(await billing.flushOverage()).toEqual({ enqueued: 0, sent: 1, failed: 0 });

    // Stripe took the event but the response was lost: the resend carries the same identifier.
    await quota.settle(o.orgId, 0, 1_000);
    fake.failNext("/v1/billing/meter_events", 1, { afterProcessing: true });
    const attemptsBefore = fake.meterEventAttempts;
    expect((await billing.flushOverage()).failed).toBe(1);
    await db.updateTable("overage_outbox").set({ next_attempt_at: Date.now() }).where("org_id", "=", o.orgId).execute();
    expect((await billing.flushOverage()).sent).toBe(1);
    expect(fake.meterEventAttempts - attemptsBefore).toBe(2);

    const mine = [...fake.meterEvents.entries()].filter(([id]) => id.startsWith(`${o.orgId}:`));
    expect(mine.map(([id]) => id).sort()).toEqual(
      [`${o.orgId}:${periodStart}:0`, `${o.orgId}:${periodStart}:5000`, `${o.orgId}:${periodStart}:7000`].sort(),
    );
    expect(mine.reduce((n, [, e]) => n + e.value, 0)).toBe(8_000);
    const billingRes = await h.request("GET", `/v1/orgs/${o.orgId}/billing`, { cookie: o.cookie });
    expect(billingRes.body).toMatchObject({ tokenUsage: 18_000, overageTokens: 8_000, estimatedOverageCost: 0.02 });
  });
});
