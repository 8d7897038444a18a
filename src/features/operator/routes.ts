import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../../http/context";
import { errors } from "../../http/errors";
import { OrgIdParam, PaginationQuery, createRouter, iso, jsonBody, jsonResponse, paginated } from "../../http/openapi";
import { apiRoute } from "../../http/routes";
import { type OperatorOrg, PlanChangeError } from "./service";

const tags = ["Operator"];

/** True when the session's user is one of OPENPAW_OPERATOR_EMAILS. */
export function isOperator(c: Context<AppEnv>): boolean {
  const principal = c.var.principal;
  return principal?.kind === "user" && c.var.services.config.operatorEmails.includes(principal.email.toLowerCase());
}

/**
 * Operator routes answer 404 to everyone else (keys included: an org's key never acts across
 * orgs), like any path that does not exist for them, so they learn nothing about other orgs.
 */
const requireOperator: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isOperator(c)) throw errors.notFound("Route");
  await next();
};

const OperatorOrgSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.object({ id: z.string(), name: z.string() }).openapi({ description: "The plan in effect" }),
    storedPlan: z.string().openapi({ description: "The plan stored on the org (what set-plan or Stripe last set)" }),
    planStatus: z.string().openapi({ description: "Subscription status: active, past_due, canceled, or none" }),
    stripeSubscriptionId: z.string().nullable(),
    members: z.number().int(),
    agents: z.number().int(),
    period: z.object({ start: z.string(), end: z.string() }),
    tokenUsage: z.number().openapi({ description: "Tokens counted against the plan this period" }),
    tokenLimit: z.number().nullable(),
    runs: z.number().int(),
    cost: z.number().openapi({ description: "USD of this period's runs at the catalogue's prices" }),
    createdAt: z.string(),
  })
  .openapi("OperatorOrg");

const serialize = (o: OperatorOrg) => ({ ...o, period: { start: iso(o.period.start), end: iso(o.period.end) }, createdAt: iso(o.createdAt) });


/** What every operator route declares: the session of a user in OPENPAW_OPERATOR_EMAILS; 404 to anyone else. */
const operatorOnly: { audience: "user"; middleware: MiddlewareHandler<AppEnv>[]; errors: { 404: string } } = {
  audience: "user",
  middleware: [requireOperator],
  errors: { 404: "Not found: the caller is not an operator of this instance (the route is not revealed), or no such org" },
};

const listOrgs = apiRoute({
  method: "get",
  path: "/v1/operator/orgs",
  operationId: "operator.orgs.list",
  tags,
  summary: "Every org of the instance with its plan and this period's usage (operators only)",
  description: "Paginated, newest first; `plan` and `q` narrow the list. Only for the sessions of OPENPAW_OPERATOR_EMAILS.",
  ...operatorOnly,
  request: {
    query: PaginationQuery.extend({
      plan: z.string().min(1).max(40).optional().openapi({ description: "Only orgs on this plan" }),
      q: z.string().min(1).max(200).optional().openapi({ description: "Name or id contains" }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(OperatorOrgSchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "A page of orgs",
    ),
  },
});

const getOrg = apiRoute({
  method: "get",
  path: "/v1/operator/orgs/{orgId}",
  operationId: "operator.orgs.get",
  tags,
  summary: "One org with its plan and usage (operators only)",
  description: "Any org of the instance, with its plan in effect, subscription, members, agents and this period's usage.",
  ...operatorOnly,
  request: { params: z.object({ orgId: OrgIdParam }) },
  responses: { 200: jsonResponse(OperatorOrgSchema, "The org") },
});

const setPlan = apiRoute({
  method: "put",
  path: "/v1/operator/orgs/{orgId}/plan",
  operationId: "operator.orgs.setPlan",
  tags,
  summary: "Set an org's plan without Stripe (operators only)",
  description:
    "Applies at once. An org with a live Stripe subscription is refused (409) unless `force` is true, because Stripe's next event would set its plan back.",
  ...operatorOnly,
  errors: { ...operatorOnly.errors, 400: "Unknown plan, or an invalid body", 409: "The org has a live Stripe subscription and `force` is not true" },
  request: {
    params: z.object({ orgId: OrgIdParam }),
    body: jsonBody(z.strictObject({ plan: z.string().min(1).max(40), force: z.boolean().optional() })),
  },
  responses: {
    200: jsonResponse(OperatorOrgSchema, "The org with its new plan"),
  },
});

const summary = apiRoute({
  method: "get",
  path: "/v1/operator/summary",
  operationId: "operator.summary",
  tags,
  summary: "Orgs by plan, users, and usage across orgs this month (operators only)",
  description: "Instance-wide figures for the operator's dashboard: orgs per plan, users, and this calendar month's runs, tokens and cost across all orgs.",
  ...operatorOnly,
  responses: {
    200: jsonResponse(
      z
        .object({
          orgs: z.number(),
          users: z.number(),
          defaultPlan: z.string(),
          plans: z.array(z.object({ id: z.string(), name: z.string(), orgs: z.number(), tokenLimit: z.number().nullable(), priceMonthly: z.number() })),
          month: z.object({ start: z.string(), end: z.string() }),
          totals: z.object({ runs: z.number(), tokens: z.number(), cost: z.number() }),
        })
        .openapi("OperatorSummary"),
      "Instance-wide figures",
    ),
  },
});

/** The instance operator's API: every org, plans, usage across orgs. */
export function operatorRoutes() {
  const app = createRouter();

  app.openapi(listOrgs, async (c) => {
    const { page, limit, plan, q } = c.req.valid("query");
    const { rows, total } = await c.var.services.operator.listOrgs({ page, limit, plan, query: q });
    return c.json(paginated(rows.map(serialize), page, limit, total), 200);
  });

  app.openapi(getOrg, async (c) => {
    const org = await c.var.services.operator.getOrg(c.req.valid("param").orgId);
    if (!org) throw errors.notFound("Organization", "orgId");
    return c.json(serialize(org), 200);
  });

  app.openapi(setPlan, async (c) => {
    const { orgId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { services } = c.var;
    try {
      const { before, after } = await services.operator.setPlan(orgId, body.plan, { force: body.force });
      const principal = c.var.principal as { email: string };
      services.logger.info("plan set by operator", { orgId, from: before, to: after.plan.id, operator: principal.email });
      return c.json(serialize(after), 200);
    } catch (error) {
      if (!(error instanceof PlanChangeError)) throw error;
      if (error.reason === "unknown_org") throw errors.notFound("Organization", "orgId");
      if (error.reason === "unknown_plan") throw errors.invalid(error.message, "plan");
      throw errors.conflict(error.message, "force");
    }
  });

  app.openapi(summary, async (c) => {
    const s = await c.var.services.operator.summary();
    return c.json({ ...s, month: { start: iso(s.month.start), end: iso(s.month.end) } }, 200);
  });

  return app;
}
