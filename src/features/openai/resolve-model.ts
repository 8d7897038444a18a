import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { ApiError } from "../../http/errors";
import { resolveChatAgent } from "../chat/resolve-agent";

/**
 * The agent a request's `model` names, as OpenAI words a model the key cannot use: unknown, another
 * org's, or outside a restricted key's agents all read the same (never a hint that it exists).
 */
export async function resolveModel(c: Context<AppEnv>, model: string) {
  try {
    return await resolveChatAgent(c, model, "model");
  } catch (error) {
    if (error instanceof ApiError && error.type === "not_found_error") {
      throw new ApiError("not_found_error", `The model \`${model}\` does not exist or you do not have access to it.`, { param: "model" });
    }
    throw error;
  }
}
