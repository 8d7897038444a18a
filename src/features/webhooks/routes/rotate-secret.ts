import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { MISSING_SECRET_KEY_MESSAGE } from "../../../lib/secrets";
import { jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { findEndpoint, updateEndpoint } from "../repository";
import { PREVIOUS_SECRET_MS, generateSecret } from "../service";
import { EndpointParams, WebhookWithSecretSchema, serializeWebhook, tags } from "./schemas";

const route = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/webhooks/{webhookId}/rotate-secret",
  operationId: "webhooks.rotateSecret",
  tags,
  summary: "Replace the signing secret; the old one keeps signing for 24 h",
  description:
    "For 24 hours every delivery carries two signatures in `webhook-signature` (space-separated, as Standard Webhooks allows): " +
    "one with the new secret, one with the old, so receivers can switch without losing a delivery. Rotating again within those " +
    "24 hours retires the oldest secret at once: only the current and the one just replaced sign.",
  request: { params: EndpointParams },
  responses: { 200: jsonResponse(WebhookWithSecretSchema, "The endpoint and its new secret") },
  permission: "admin",
});

export function rotateWebhookSecret(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const { webhookId } = c.req.valid("param");
    const existing = await findEndpoint(services.db.kysely, access.orgId, webhookId);
    if (!existing) throw errors.notFound("Webhook", "webhookId");
    // As on create: without the key no secret can be sealed (a 400 saying how to fix it, not a 500).
    if (!services.config.secretKey) throw errors.invalid(MISSING_SECRET_KEY_MESSAGE);
    const secret = generateSecret();
    const now = Date.now();
    const changes = {
      secret_enc: await services.webhooks.seal(secret, existing.id),
      previous_secret_enc: existing.secret_enc,
      previous_secret_expires_at: now + PREVIOUS_SECRET_MS,
      updated_at: now,
    };
    if (!(await updateEndpoint(services.db.kysely, access.orgId, webhookId, changes))) throw errors.notFound("Webhook", "webhookId");
    return c.json({ ...serializeWebhook({ ...existing, ...changes }), secret }, 200);
  });
}
