import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { isUniqueViolation } from "../../../db";
import type { WebhookEndpointsTable } from "../../../db/schema";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors, jsonBody, jsonResponse } from "../../../http/openapi";
import { newId } from "../../../lib/ids";
import { MISSING_SECRET_KEY_MESSAGE } from "../../../lib/secrets";
import { insertEndpoint } from "../repository";
import { generateSecret } from "../service";
import { Description, Events, Url, WebhookParams, WebhookWithSecretSchema, requireWebhookPermission, serializeWebhook, tags } from "./schemas";
import { checkWebhookUrl, duplicateUrl } from "./url";

const Body = z
  .strictObject({ url: Url, events: Events, description: Description.optional(), enabled: z.boolean().default(true) })
  .openapi("CreateWebhookRequest");

const route = createRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/webhooks",
  tags,
  summary: "Add a webhook endpoint; the answer carries its signing secret, once",
  description:
    "Deliveries are signed per the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`). " +
    "The URL must be https and reach a public address.",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: WebhookParams, body: jsonBody(Body) },
  responses: { 201: jsonResponse(WebhookWithSecretSchema, "The endpoint and its secret"), 409: jsonResponse(z.any(), "URL already registered"), ...commonErrors },
});

export function createWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    requireWebhookPermission(access, true);
    const body = c.req.valid("json");
    await checkWebhookUrl(services, body.url);
    if (!services.config.secretKey) throw errors.invalid(MISSING_SECRET_KEY_MESSAGE, "url");
    const id = newId("wh");
    const secret = generateSecret();
    const now = Date.now();
    const row: WebhookEndpointsTable = {
      id,
      org_id: access.orgId,
      url: body.url,
      events: JSON.stringify(body.events),
      description: body.description ?? null,
      enabled: body.enabled ? 1 : 0,
      disabled_reason: null,
      secret_enc: await services.webhooks.seal(secret, id),
      previous_secret_enc: null,
      previous_secret_expires_at: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await insertEndpoint(services.db.kysely, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateUrl();
      throw error;
    }
    return c.json({ ...serializeWebhook(row), secret }, 201);
  });
}
