import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { listEndpoints } from "../repository";
import { WebhookParams, WebhookSchema, serializeWebhook, tags } from "./schemas";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/webhooks",
  operationId: "webhooks.list",
  tags,
  summary: "List the org's webhook endpoints",
  description:
    "Every endpoint of the organization, enabled or not (`disabledReason` says why the gateway disabled one); never their secrets. " +
    "Webhooks carry every agent's runs, so an API key restricted to some agents cannot list them (403).",
  request: { params: WebhookParams },
  responses: { 200: jsonResponse(z.object({ data: z.array(WebhookSchema) }), "Endpoints") },
  permission: "read",
});

export function listWebhooks(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const rows = await listEndpoints(services.db.kysely, access.orgId);
    return c.json({ data: rows.map(serializeWebhook) }, 200);
  });
}
