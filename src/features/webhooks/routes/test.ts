import { createRoute } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors, jsonResponse } from "../../../http/openapi";
import { findEndpoint } from "../repository";
import { DeliverySchema, EndpointParams, requireWebhookPermission, serializeDelivery, tags } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}/test",
  tags,
  summary: "Send a test delivery (`webhook.test`) now",
  description:
    "Answers 200 with the delivery after its first attempt, whatever the receiver said: `status`, `responseCode` and `error` tell. " +
    "A failed test delivery is retried like any other.",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: EndpointParams },
  responses: { 200: jsonResponse(DeliverySchema, "The delivery"), ...commonErrors },
});

export function testWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    requireWebhookPermission(access, true);
    const endpoint = await findEndpoint(services.db.kysely, access.orgId, c.req.valid("param").webhookId);
    if (!endpoint) throw errors.notFound("Webhook", "webhookId");
    if (endpoint.enabled !== 1) throw errors.conflict("The endpoint is disabled; enable it first.", "webhookId");
    return c.json(serializeDelivery(await services.webhooks.sendTest(endpoint)), 200);
  });
}
