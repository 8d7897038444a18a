import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { isUniqueViolation } from "../../../db";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonBody, jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { type EndpointChanges, findEndpoint, updateEndpoint } from "../repository";
import { Description, EndpointParams, Events, Url, WebhookSchema, serializeWebhook, tags } from "./schemas";
import { checkWebhookUrl, duplicateUrl } from "./url";

const Body = z
  .strictObject({ url: Url.optional(), events: Events.optional(), description: Description.nullable().optional(), enabled: z.boolean().optional() })
  .openapi("UpdateWebhookRequest");

const route = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}",
  operationId: "webhooks.update",
  tags,
  summary: "Change a webhook endpoint (enabling it again clears the reason it was disabled for)",
  description:
    "Only the fields sent change. A new `url` is held to the rules of creation (400 naming `url`). Sending `enabled` " +
    "(true or false) clears `disabledReason` and starts the 3-day failure count afresh; the secret does not change.",
  request: { params: EndpointParams, body: jsonBody(Body) },
  responses: { 200: jsonResponse(WebhookSchema, "The endpoint") },
  errors: { 409: "Another endpoint of the organization has this URL (`param` is `url`)" },
  permission: "admin",
});

export function updateWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const { webhookId } = c.req.valid("param");
    const body = c.req.valid("json");
    const existing = await findEndpoint(services.db.kysely, access.orgId, webhookId);
    if (!existing) throw errors.notFound("Webhook", "webhookId");
    if (body.url !== undefined) await checkWebhookUrl(services, body.url);
    const changes: EndpointChanges = {
      updated_at: Date.now(),
      ...(body.url !== undefined ? { url: body.url } : {}),
      ...(body.events !== undefined ? { events: JSON.stringify(body.events) } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      // A person's decision: enabled again starts the 3-day count afresh.
      ...(body.enabled !== undefined ? { enabled: body.enabled ? 1 : 0, disabled_reason: null, failing_since: null } : {}),
    };
    try {
      if (!(await updateEndpoint(services.db.kysely, access.orgId, webhookId, changes))) throw errors.notFound("Webhook", "webhookId");
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateUrl();
      throw error;
    }
    return c.json(serializeWebhook({ ...existing, ...changes }), 200);
  });
}
