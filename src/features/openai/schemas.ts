import { z } from "@hono/zod-openapi";

export const tags = ["OpenAI-compatible"];

export const OpenAiErrorSchema = z
  .object({
    error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
  })
  .openapi("OpenAiError");

const error = (description: string) => ({ content: { "application/json": { schema: OpenAiErrorSchema } }, description });

/** The error responses of the OpenAI-compatible routes (OpenAI's error shape). */
export const openAiErrors = {
  400: error("Invalid request (param names the field)"),
  401: error("Missing, unknown, revoked or expired API key"),
  403: error("The key's scopes do not allow this"),
  404: error("No such model (agent) or response for this key, including other organizations'"),
} as const;

/** `model`: the id of an agent of the key's organization. */
export const ModelField = z
  .string()
  .min(1)
  .max(64)
  .openapi({ description: "The id of an agent of the key's organization", example: "ag_4f9Kq2" });

/** Parameters OpenAI clients send that an agent fixes itself: accepted and ignored (documented). */
export const ignoredSamplingFields = {
  temperature: z.number().nullable().optional(),
  top_p: z.number().nullable().optional(),
  presence_penalty: z.number().nullable().optional(),
  frequency_penalty: z.number().nullable().optional(),
  seed: z.number().nullable().optional(),
  user: z.string().nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  tool_choice: z.unknown().optional(),
  service_tier: z.string().nullable().optional(),
  prompt_cache_key: z.string().nullable().optional(),
  safety_identifier: z.string().nullable().optional(),
  reasoning_effort: z.string().nullable().optional(),
};
