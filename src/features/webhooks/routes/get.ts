import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { findEndpoint } from "../repository";
import { EndpointParams, WebhookSchema, serializeWebhook, tags } from "./schemas";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}",
  operationId: "webhooks.get",
  tags,
  summary: "A webhook endpoint (never its secret)",
  description: "The endpoint's URL, events and state; the signing secret is shown only when it is created or rotated.",
  request: { params: EndpointParams },
  responses: { 200: jsonResponse(WebhookSchema, "The endpoint") },
  permission: "read",
});

export function getWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const row = await findEndpoint(services.db.kysely, access.orgId, c.req.valid("param").webhookId);
    if (!row) throw errors.notFound("Webhook", "webhookId");
    return c.json(serializeWebhook(row), 200);
  });
}
