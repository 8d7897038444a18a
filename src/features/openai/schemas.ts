import { z } from "@hono/zod-openapi";
import { type ApiRouteConfig, type ErrorStatus, apiRoute } from "../../http/routes";

export const tags = ["OpenAI-compatible"];

export const OpenAiErrorSchema = z
  .object({
    error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
  })
  .openapi("OpenAiError");

/** What every OpenAI-compatible operation can answer besides the gateway's own statuses, in OpenAI's error shape. */
const OPENAI_ERRORS: Partial<Record<ErrorStatus, string>> = {
  401: "Missing, unknown, revoked or expired API key (a session cookie is not accepted here)",
  403: "The key's scopes do not allow this, or the key is restricted to other agents",
  404: "No such model (agent) or response for this key, including other organizations'",
};

/** What starting a run can answer (chat completions, responses). */
export const RUN_START_ERRORS: Partial<Record<ErrorStatus, string>> = {
  402: "The plan's token limit is reached and the plan has no overage (`quota_exceeded`)",
  429: "Too many requests or concurrent runs for the key or org; `Retry-After` says when",
  502: "The model provider failed before the answer began",
  503: "The agent's model is not served by a configured provider, or the database is unavailable",
};

/**
 * An operation of the OpenAI-compatible surface: API key only (the surface's own middleware
 * authenticates), errors in OpenAI's shape, every status declared.
 */
export function openAiRoute<P extends string, R extends Omit<ApiRouteConfig, "audience" | "errorSchema"> & { path: P }>(config: R) {
  return apiRoute({ ...config, audience: "key", errorSchema: OpenAiErrorSchema, errors: { ...OPENAI_ERRORS, ...config.errors } });
}

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
