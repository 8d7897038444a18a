import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { findEndpoint } from "../repository";
import { DeliverySchema, EndpointParams, serializeDelivery, tags } from "./schemas";

const route = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}/test",
  operationId: "webhooks.test",
  tags,
  summary: "Send a test delivery (`webhook.test`) now",
  description:
    "Answers 200 with the delivery after its first attempt, whatever the receiver said: `status`, `responseCode` and `error` tell. " +
    "The attempt waits for the receiver up to 10 seconds. A failed test delivery is retried like any other.",
  request: { params: EndpointParams },
  responses: { 200: jsonResponse(DeliverySchema, "The delivery") },
  errors: { 409: "The endpoint is disabled; enable it first" },
  permission: "admin",
});

export function testWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const endpoint = await findEndpoint(services.db.kysely, access.orgId, c.req.valid("param").webhookId);
    if (!endpoint) throw errors.notFound("Webhook", "webhookId");
    if (endpoint.enabled !== 1) throw errors.conflict("The endpoint is disabled; enable it first.", "webhookId");
    return c.json(serializeDelivery(await services.webhooks.sendTest(endpoint)), 200);
  });
}
