import { type ApiApp, callApi } from "../api";
import { redirectOffSite } from "../redirect";
import { type Dashboard, apiErrorPage, apiFailure, failed, field, orgPage } from "../page";
import { Layout, fmt } from "../ui";

/** Billing: plan, usage against the limit, overage estimate, Stripe checkout and portal. */
export function registerBillingPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/billing",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const result = await callApi(api, c, "GET", `/v1${base}/billing`);
      if (!result.ok) return apiErrorPage(c, view, result);
      const b = result.body;
      const { services } = c.var;
      const stripeReady = services.config.stripe.secretKey !== null;
      const buyable = services.plans.list().filter((p) => p.id !== b.plan.id && services.billing.priceOfPlan(p.id) !== null);
      const canBill = view.can("billing");
      return c.html(
        <Layout view={view} title="Billing" active="Billing">
          <dl class="stats">
            <div>
              <dt>Plan</dt>
              <dd>{b.plan.name}</dd>
            </div>
            <div>
              <dt>Price</dt>
              <dd>{fmt.usd(b.plan.priceMonthly)}/month</dd>
            </div>
            <div>
              <dt>Subscription</dt>
              <dd>{b.status}</dd>
            </div>
            <div>
              <dt>Period</dt>
              <dd class="small">
                {b.period.start.slice(0, 10)} → {b.period.end.slice(0, 10)}
              </dd>
            </div>
          </dl>
          <h2 id="usage-h">Tokens this period</h2>
          {b.tokenLimit === null ? (
            <p>
              {fmt.int(b.tokenUsage)} tokens used; this plan has no limit.
            </p>
          ) : (
            <>
              <meter aria-labelledby="usage-h" min={0} max={b.tokenLimit} low={b.tokenLimit * 0.8} high={b.tokenLimit * 0.95} optimum={0} value={Math.min(b.tokenUsage, b.tokenLimit)}>
                {fmt.int(b.tokenUsage)} of {fmt.int(b.tokenLimit)}
              </meter>
              <p>
                {fmt.int(b.tokenUsage)} of {fmt.int(b.tokenLimit)} tokens ({Math.round((b.tokenUsage / Math.max(1, b.tokenLimit)) * 100)}%).{" "}
                {b.plan.overageRate === null
                  ? "Runs stop when the limit is reached."
                  : `Over the limit: ${fmt.usd(b.plan.overageRate)} per million tokens.`}
              </p>
            </>
          )}
          {b.overageTokens > 0 ? (
            <p class="warn">
              Overage so far: {fmt.int(b.overageTokens)} tokens, estimated {fmt.usd(b.estimatedOverageCost)}.
            </p>
          ) : null}
          <h2>Change plan</h2>
          {!stripeReady ? (
            <p class="note">
              Billing is not configured on this server (no Stripe key), so plans are not sold here. The operator of this instance sets
              plans: on the {view.operator ? <a href="/operator">Operator page</a> : "Operator page"} (for the users listed in{" "}
              <code>OPENPAW_OPERATOR_EMAILS</code>) or with <code>openpaw orgs set-plan {view.org.id} PLAN</code>.
            </p>
          ) : !canBill ? (
            <p class="muted">Only owners manage billing.</p>
          ) : (
            <div class="row">
              {buyable.map((p) => (
                <form method="post" action={`${base}/billing/checkout`} hx-boost="false">
                  <input type="hidden" name="plan" value={p.id} />
                  <button type="submit" class="primary">
                    Upgrade to {p.name} ({fmt.usd(p.priceMonthly)}/month)
                  </button>
                </form>
              ))}
              <form method="post" action={`${base}/billing/portal`} hx-boost="false">
                <button type="submit">Manage subscription</button>
              </form>
            </div>
          )}
        </Layout>,
      );
    }),
  );

  // Both go to Stripe-hosted pages: the API returns the URL, the browser is redirected there.
  app.post(
    "/orgs/:orgId/billing/checkout",
    orgPage(api, async (c, view) => {
      const page = new URL(`/orgs/${view.org.id}/billing`, c.var.services.config.publicUrl).toString();
      const plan = field(await c.req.parseBody(), "plan");
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/billing/checkout`, { body: { plan, successUrl: page, cancelUrl: page } });
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, `/orgs/${view.org.id}/billing`, result);
      return redirectOffSite(c, result.body.url, `/orgs/${view.org.id}/billing`);
    }),
  );
  app.post(
    "/orgs/:orgId/billing/portal",
    orgPage(api, async (c, view) => {
      const page = new URL(`/orgs/${view.org.id}/billing`, c.var.services.config.publicUrl).toString();
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/billing/portal`, { body: { returnUrl: page } });
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, `/orgs/${view.org.id}/billing`, result);
      return redirectOffSite(c, result.body.url, `/orgs/${view.org.id}/billing`);
    }),
  );
}
