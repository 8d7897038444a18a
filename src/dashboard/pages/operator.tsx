import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import { type Viewer, loadViewer } from "../context";
import { type Dashboard, done, failed, field, notFoundPage } from "../page";
import { Layout, fmt } from "../ui";

interface OperatorOrg {
  id: string;
  name: string;
  plan: { id: string; name: string };
  planStatus: string;
  stripeSubscriptionId: string | null;
  members: number;
  agents: number;
  period: { start: string; end: string };
  tokenUsage: number;
  tokenLimit: number | null;
  runs: number;
  cost: number;
  createdAt: string;
}

interface Summary {
  orgs: number;
  users: number;
  defaultPlan: string;
  plans: Array<{ id: string; name: string; orgs: number; tokenLimit: number | null; priceMonthly: number }>;
  month: { start: string; end: string };
  totals: { runs: number; tokens: number; cost: number };
}

const PAGE_SIZE = 50;

/** Runs `handler` for an operator; everyone else gets the dashboard's 404 (the page is not theirs to know of). */
function operatorPage(api: ApiApp, handler: (c: Context<AppEnv>, viewer: Viewer) => Response | Promise<Response>) {
  return async (c: Context<AppEnv>) => {
    const viewer = await loadViewer(api, c);
    if (viewer instanceof Response) return viewer;
    if (!viewer.operator) return notFoundPage(c, viewer);
    return handler(c, viewer);
  };
}

/** The usage of an org against its plan, as "12,345 of 200,000 (6%)". */
function usageOf(o: OperatorOrg): string {
  if (o.tokenLimit === null) return `${fmt.int(o.tokenUsage)} (no limit)`;
  return `${fmt.int(o.tokenUsage)} of ${fmt.int(o.tokenLimit)} (${Math.round((o.tokenUsage / Math.max(1, o.tokenLimit)) * 100)}%)`;
}

/**
 * The operator page (OPENPAW_OPERATOR_EMAILS): every org with its plan and this period's usage,
 * the plans with how many orgs are on each, usage across orgs this month, and a plan picker per
 * org, all through the operator API.
 */
export function registerOperatorPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/operator",
    operatorPage(api, async (c, viewer) => {
      const page = Math.max(1, Number(c.req.query("page") ?? 1) || 1);
      const q = (c.req.query("q") ?? "").trim();
      const plan = c.req.query("plan") ?? "";
      const query = new URLSearchParams({ page: String(page), limit: String(PAGE_SIZE) });
      if (q) query.set("q", q);
      if (plan) query.set("plan", plan);
      const [summary, orgs] = await Promise.all([
        callApi<Summary>(api, c, "GET", "/v1/operator/summary"),
        callApi<{ data: OperatorOrg[]; total: number; hasMore: boolean }>(api, c, "GET", `/v1/operator/orgs?${query}`),
      ]);
      if (!summary.ok || !orgs.ok) return notFoundPage(c, viewer);
      const s = summary.body;
      const link = (p: number) => `/operator?${new URLSearchParams({ ...(q ? { q } : {}), ...(plan ? { plan } : {}), page: String(p) })}`;
      return c.html(
        <Layout view={viewer} title="Operator" active="Operator">
          <p class="muted">
            Every organization of this instance. Plans set here apply at once; an org billed through Stripe changes plans in Stripe (its
            next event would undo a change made here). From a shell: <code>openpaw orgs list</code>, <code>openpaw orgs set-plan ORG PLAN</code>.
          </p>
          <dl class="stats">
            <div>
              <dt>Organizations</dt>
              <dd>{fmt.int(s.orgs)}</dd>
            </div>
            <div>
              <dt>Users</dt>
              <dd>{fmt.int(s.users)}</dd>
            </div>
            <div>
              <dt>Runs this month</dt>
              <dd>{fmt.int(s.totals.runs)}</dd>
            </div>
            <div>
              <dt>Tokens this month</dt>
              <dd>{fmt.int(s.totals.tokens)}</dd>
            </div>
            <div>
              <dt>Model cost this month</dt>
              <dd>{fmt.usd(s.totals.cost)}</dd>
            </div>
          </dl>
          <h2 id="plans-h">Plans</h2>
          <table aria-labelledby="plans-h">
            <thead>
              <tr>
                <th scope="col">Plan</th>
                <th scope="col" class="num">
                  Tokens per period
                </th>
                <th scope="col" class="num">
                  Price / month
                </th>
                <th scope="col" class="num">
                  Orgs
                </th>
              </tr>
            </thead>
            <tbody>
              {s.plans.map((p) => (
                <tr>
                  <td>
                    <a href={`/operator?plan=${p.id}`}>{p.name}</a> <code>{p.id}</code>
                    {p.id === s.defaultPlan ? <span class="badge">default for new orgs</span> : null}
                  </td>
                  <td class="num">{p.tokenLimit === null ? "no limit" : fmt.int(p.tokenLimit)}</td>
                  <td class="num">{fmt.usd(p.priceMonthly)}</td>
                  <td class="num">{fmt.int(p.orgs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2 id="orgs-h">Organizations</h2>
          <form method="get" action="/operator" class="row">
            <label>
              Name or id
              <input type="text" name="q" value={q} />
            </label>
            <label>
              Plan
              <select name="plan">
                <option value="">Any</option>
                {s.plans.map((p) => (
                  <option value={p.id} selected={p.id === plan}>
                    {p.name}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Filter</button>
          </form>
          <table aria-labelledby="orgs-h">
            <thead>
              <tr>
                <th scope="col">Organization</th>
                <th scope="col">Tokens this period</th>
                <th scope="col" class="num">
                  Runs
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col">Plan</th>
              </tr>
            </thead>
            <tbody>
              {orgs.body.data.length === 0 ? (
                <tr>
                  <td colspan={5} class="empty">
                    No organizations match.
                  </td>
                </tr>
              ) : (
                orgs.body.data.map((o) => (
                  <tr>
                    <td>
                      {o.name}
                      <br />
                      <span class="muted small">
                        <code>{o.id}</code> · {o.members} {o.members === 1 ? "member" : "members"} · {o.agents} {o.agents === 1 ? "agent" : "agents"}
                        {o.stripeSubscriptionId ? ` · Stripe ${o.planStatus}` : ""}
                      </span>
                    </td>
                    <td>{usageOf(o)}</td>
                    <td class="num">{fmt.int(o.runs)}</td>
                    <td class="num">{fmt.usd(o.cost)}</td>
                    <td>
                      <form method="post" action={`/operator/orgs/${o.id}/plan`} class="row compact">
                        <label>
                          <span class="visually-hidden">Plan of {o.name}</span>
                          <select name="plan">
                            {s.plans.map((p) => (
                              <option value={p.id} selected={p.id === o.plan.id}>
                                {p.name}
                              </option>
                            ))}
                          </select>
                        </label>
                        {o.stripeSubscriptionId ? (
                          <label class="check small">
                            <input type="checkbox" name="force" value="true" /> despite Stripe
                          </label>
                        ) : null}
                        <button type="submit" class="secondary">
                          Set plan
                        </button>
                      </form>
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
          <p class="pager">
            {page > 1 ? <a href={link(page - 1)}>← Newer</a> : null}
            <span class="muted small">
              {fmt.int(orgs.body.total)} {orgs.body.total === 1 ? "organization" : "organizations"}
            </span>
            {orgs.body.hasMore ? <a href={link(page + 1)}>Older →</a> : null}
          </p>
        </Layout>,
      );
    }),
  );

  app.post(
    "/operator/orgs/:orgId/plan",
    operatorPage(api, async (c) => {
      const form = await c.req.parseBody();
      const orgId = c.req.param("orgId") ?? "";
      const body: Record<string, unknown> = { plan: field(form, "plan") };
      if (field(form, "force") === "true") body.force = true;
      const result = await callApi(api, c, "PUT", `/v1/operator/orgs/${encodeURIComponent(orgId)}/plan`, { body });
      if (!result.ok) return failed(c, "/operator", result);
      return done(c, "/operator", `${result.body.name} is now on the ${result.body.plan.name} plan.`);
    }),
  );
}
