import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../http/auth";
import { commonErrors, createRouter, jsonResponse } from "../../http/openapi";

const Price = z.number().openapi({ description: "USD per million tokens" });

/** A catalogue entry as the API shows it (same shape as the runtime's `ModelInfo`). */
export const ModelSchema = z
  .object({
    id: z.string().openapi({ example: "claude-sonnet-4-20250514" }),
    provider: z.enum(["anthropic", "openai"]),
    providerModel: z.string().openapi({ description: "The id the upstream API is called with" }),
    name: z.string(),
    contextWindow: z.number().int(),
    maxOutputTokens: z.number().int(),
    prices: z.object({ input: Price, output: Price, cacheRead: Price, cacheWrite: Price }),
    defaultTemperature: z.number().optional(),
    available: z.boolean().openapi({ description: "False when this deployment has no credentials for the provider" }),
  })
  .openapi("Model");

const listModels = createRoute({
  method: "get",
  path: "/v1/models",
  tags: ["Models"],
  summary: "List the models agents may use, with prices",
  middleware: [requireAuth] as const,
  responses: { 200: jsonResponse(z.object({ data: z.array(ModelSchema) }), "Models"), 401: commonErrors[401] },
});

/** The model catalogue, for any signed-in user or API key. */
export function modelRoutes() {
  const app = createRouter();
  app.openapi(listModels, (c) => c.json({ data: c.var.services.models.list() }, 200));
  return app;
}
