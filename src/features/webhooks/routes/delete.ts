import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { orgRoute } from "../../../http/routes";
import { deleteEndpoint } from "../repository";
import { EndpointParams, tags } from "./schemas";

const route = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}",
  operationId: "webhooks.delete",
  tags,
  summary: "Remove a webhook endpoint with its delivery log (pending deliveries are dropped)",
  description: "Removes the endpoint and its delivery log; deliveries not yet made are never attempted.",
  request: { params: EndpointParams },
  responses: { 204: { description: "Removed" } },
  permission: "admin",
});

export function deleteWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    if (!(await deleteEndpoint(services.db.kysely, access.orgId, c.req.valid("param").webhookId))) throw errors.notFound("Webhook", "webhookId");
    return c.body(null, 204);
  });
}
