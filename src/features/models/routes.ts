import { z } from "@hono/zod-openapi";
import { createRouter, jsonResponse } from "../../http/openapi";
import { apiRoute } from "../../http/routes";
import type { ModelInfo } from "../../runtime/models/catalogue";

const Price = z.number().openapi({ description: "USD per million tokens" });
const Rates = { input: Price, output: Price, cacheRead: Price, cacheWrite: Price };

/** A catalogue entry as the API shows it (same shape as the runtime's `ModelInfo`). */
export const ModelSchema = z
  .object({
    id: z.string().openapi({ example: "claude-sonnet-4-20250514" }),
    provider: z.enum(["anthropic", "openai"]),
    providerModel: z.string().openapi({ description: "The id the upstream API is called with" }),
    name: z.string(),
    contextWindow: z.number().int(),
    maxOutputTokens: z.number().int(),
    prices: z.object({
      ...Rates,
      longContext: z
        .object({ aboveInputTokens: z.number().int(), ...Rates })
        .optional()
        .openapi({ description: "Rates of every token of a call whose prompt (input + cache) exceeds aboveInputTokens" }),
    }),
    defaultTemperature: z.number().optional(),
    available: z.boolean().openapi({ description: "False when this deployment has no credentials for the provider, or its server no longer serves it" }),
    local: z.boolean().openapi({ description: "Served by this deployment's own OpenAI-compatible server (OPENAI_BASE_URL); $0 unless OPENPAW_MODELS_FILE prices it" }),
    pricesKnown: z.boolean().openapi({ description: "False for a model a provider serves that the catalogue has no prices for: its runs are recorded at $0" }),
    note: z.string().nullable().openapi({ description: "Where the entry comes from and why it costs what it costs" }),
  })
  .openapi("Model");

/** The public shape: the request parameters a provider needs are the gateway's business. */
export function serializeModel({ requestParams: _internal, ...model }: ModelInfo) {
  return model;
}

const listModels = apiRoute({
  method: "get",
  path: "/v1/models",
  operationId: "models.list",
  tags: ["Models"],
  summary: "List the models agents may use, with prices",
  description:
    "The catalogue of this deployment: each model's provider, context window, prices per million tokens and whether a configured provider serves it now (`available`). Any API key or signed-in user may read it.",
  audience: "principal",
  responses: {
    200: jsonResponse(
      z.object({
        data: z.array(ModelSchema),
        default: z.string().openapi({ description: "The model the dashboard offers a new agent: a mid-priced one that can run here" }),
      }),
      "Models",
    ),
  },
});

/** The model catalogue, for any signed-in user or API key. */
export function modelRoutes() {
  const app = createRouter();
  app.openapi(listModels, (c) => {
    const { models } = c.var.services;
    return c.json({ data: models.list().map(serializeModel), default: models.defaultModel().id }, 200);
  });
  return app;
}
