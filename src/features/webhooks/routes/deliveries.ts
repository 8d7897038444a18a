import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { PaginationQuery, jsonResponse, paginated } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { findEndpoint, listDeliveries } from "../repository";
import { DeliverySchema, EndpointParams, serializeDelivery, tags } from "./schemas";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}/deliveries",
  operationId: "webhooks.deliveries.list",
  tags,
  summary: "The endpoint's delivery log, newest first",
  description:
    "Each delivery with its attempts so far, the last answer's status or error, and when it is next tried; `status` filters " +
    "(`pending` ones are still being retried, for up to 24 hours after they were written).",
  request: { params: EndpointParams, query: PaginationQuery.extend({ status: z.enum(["pending", "delivered", "failed"]).optional() }) },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(DeliverySchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "Deliveries",
    ),
  },
  permission: "read",
});

export function listWebhookDeliveries(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const { webhookId } = c.req.valid("param");
    const { page, limit, status } = c.req.valid("query");
    if (!(await findEndpoint(services.db.kysely, access.orgId, webhookId))) throw errors.notFound("Webhook", "webhookId");
    const { rows, total } = await listDeliveries(services.db.kysely, access.orgId, webhookId, page, limit, status);
    return c.json(paginated(rows.map(serializeDelivery), page, limit, total), 200);
  });
}
