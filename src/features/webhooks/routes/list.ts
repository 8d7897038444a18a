import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { commonErrors, jsonResponse } from "../../../http/openapi";
import { listEndpoints } from "../repository";
import { WebhookParams, WebhookSchema, requireWebhookPermission, serializeWebhook, tags } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/webhooks",
  tags,
  summary: "List the org's webhook endpoints",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: WebhookParams },
  responses: { 200: jsonResponse(z.object({ data: z.array(WebhookSchema) }), "Endpoints"), ...commonErrors },
});

export function listWebhooks(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    requireWebhookPermission(access, false);
    const rows = await listEndpoints(services.db.kysely, access.orgId);
    return c.json({ data: rows.map(serializeWebhook) }, 200);
  });
}
