import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { PaginationQuery, commonErrors, jsonResponse, paginated } from "../../../http/openapi";
import { findEndpoint, listDeliveries } from "../repository";
import { DeliverySchema, EndpointParams, requireWebhookPermission, serializeDelivery, tags } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}/deliveries",
  tags,
  summary: "The endpoint's delivery log, newest first",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: EndpointParams, query: PaginationQuery.extend({ status: z.enum(["pending", "delivered", "failed"]).optional() }) },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(DeliverySchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "Deliveries",
    ),
    ...commonErrors,
  },
});

export function listWebhookDeliveries(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    requireWebhookPermission(access, false);
    const { webhookId } = c.req.valid("param");
    const { page, limit, status } = c.req.valid("query");
    if (!(await findEndpoint(services.db.kysely, access.orgId, webhookId))) throw errors.notFound("Webhook", "webhookId");
    const { rows, total } = await listDeliveries(services.db.kysely, access.orgId, webhookId, page, limit, status);
    return c.json(paginated(rows.map(serializeDelivery), page, limit, total), 200);
  });
}
