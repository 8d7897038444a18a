import { z } from "@hono/zod-openapi";
import type { WebhookDeliveriesTable, WebhookEndpointsTable } from "../../../db/schema";
import { OrgIdParam, PathId, iso } from "../../../http/openapi";
import { WEBHOOK_EVENTS } from "../events";

export const tags = ["Webhooks"];

export const WebhookParams = z.object({ orgId: OrgIdParam });
export const EndpointParams = WebhookParams.extend({ webhookId: PathId("webhookId", "wh_4f9Kq2") });

export const Url = z.string().trim().min(1).max(2048);
export const Events = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1)
  .max(WEBHOOK_EVENTS.length)
  .refine((events) => new Set(events).size === events.length, { message: "Each event may be listed once." });
export const Description = z.string().max(500);

export const WebhookSchema = z
  .object({
    id: z.string().openapi({ example: "wh_4f9Kq2" }),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENTS)),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({ description: "Why the gateway disabled the endpoint (every delivery failed for 3 days)" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Webhook");

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: "The signing secret (Standard Webhooks, `whsec_…`): shown only here" }),
}).openapi("WebhookWithSecret");

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: "whd_4f9Kq2", description: "Also the `webhook-id` header of every attempt" }),
    webhookId: z.string(),
    runId: z.string().nullable(),
    event: z.string(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number(),
    responseCode: z.number().nullable().openapi({ description: "HTTP status of the last attempt; null when it got no answer" }),
    error: z.string().nullable().openapi({ description: "Why the last attempt failed" }),
    lastAttemptAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("WebhookDelivery");

export function serializeWebhook(row: WebhookEndpointsTable) {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as Array<(typeof WEBHOOK_EVENTS)[number]>,
    description: row.description,
    enabled: row.enabled === 1,
    disabledReason: row.disabled_reason,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function serializeDelivery(row: WebhookDeliveriesTable) {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    runId: row.run_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    responseCode: row.response_code,
    error: row.last_error,
    lastAttemptAt: iso(row.last_attempt_at === null ? null : Number(row.last_attempt_at)),
    nextAttemptAt: iso(row.next_attempt_at === null ? null : Number(row.next_attempt_at)),
    deliveredAt: iso(row.delivered_at === null ? null : Number(row.delivered_at)),
    createdAt: iso(Number(row.created_at)),
  };
}
