import { createRoute } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors } from "../../../http/openapi";
import { deleteEndpoint } from "../repository";
import { EndpointParams, requireWebhookPermission, tags } from "./schemas";

const route = createRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}",
  tags,
  summary: "Remove a webhook endpoint with its delivery log (pending deliveries are dropped)",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: EndpointParams },
  responses: { 204: { description: "Removed" }, ...commonErrors },
});

export function deleteWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    requireWebhookPermission(access, true);
    if (!(await deleteEndpoint(services.db.kysely, access.orgId, c.req.valid("param").webhookId))) throw errors.notFound("Webhook", "webhookId");
    return c.body(null, 204);
  });
}
