import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { isUniqueViolation } from "../../../db";
import type { WebhookEndpointsTable } from "../../../db/schema";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonBody, jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { newId } from "../../../lib/ids";
import { MISSING_SECRET_KEY_MESSAGE } from "../../../lib/secrets";
import { insertEndpoint } from "../repository";
import { generateSecret } from "../service";
import { Description, Events, Url, WebhookParams, WebhookWithSecretSchema, serializeWebhook, tags } from "./schemas";
import { checkWebhookUrl, duplicateUrl } from "./url";

const Body = z
  .strictObject({ url: Url, events: Events, description: Description.optional(), enabled: z.boolean().default(true) })
  .openapi("CreateWebhookRequest");

const route = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/webhooks",
  operationId: "webhooks.create",
  tags,
  summary: "Add a webhook endpoint; the answer carries its signing secret, once",
  description:
    "Deliveries are signed per the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`). " +
    "The URL must be https (unless its host is on the deployment's fetch allowlist) and reach a public address: 400 naming `url` otherwise, " +
    "and also when the deployment has no `OPENPAW_SECRET_KEY` to keep the secret with.",
  request: { params: WebhookParams, body: jsonBody(Body) },
  responses: { 201: jsonResponse(WebhookWithSecretSchema, "The endpoint and its secret") },
  errors: { 409: "The organization already has an endpoint with this URL (`param` is `url`)" },
  permission: "admin",
});

export function createWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
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
