import { createRoute } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors, jsonResponse } from "../../../http/openapi";
import { findEndpoint } from "../repository";
import { EndpointParams, WebhookSchema, requireWebhookPermission, serializeWebhook, tags } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}",
  tags,
  summary: "A webhook endpoint (never its secret)",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: EndpointParams },
  responses: { 200: jsonResponse(WebhookSchema, "The endpoint"), ...commonErrors },
});

export function getWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    requireWebhookPermission(access, false);
    const row = await findEndpoint(services.db.kysely, access.orgId, c.req.valid("param").webhookId);
    if (!row) throw errors.notFound("Webhook", "webhookId");
    return c.json(serializeWebhook(row), 200);
  });
}
