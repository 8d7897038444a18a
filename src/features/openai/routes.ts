/**
 * The OpenAI-compatible surface (DESIGN.md §6), an OpenAI SDK's `baseURL`: `/openai/v1`. Every
 * route authenticates with the org's API key, starts and reads runs through the runs service
 * (same scopes, agent restrictions, quotas, concurrency limits, usage records and tenancy as the
 * native chat) and answers errors in OpenAI's shape (see errors.ts).
 */
import type { AppEnv } from "../../http/context";
import { limitBody, requireJsonContentType } from "../../http/middleware";
import { createRouter } from "../../http/openapi";
import type { MiddlewareHandler } from "hono";
import { requireApiKey } from "./access";
import { chatCompletions } from "./chat-completions";
import { OPENAI_BASE } from "./errors";
import { models } from "./models";
import { cancelResponse } from "./responses/cancel";
import { createResponse } from "./responses/create";
import { getResponse } from "./responses/get";

const bodyLimit: MiddlewareHandler<AppEnv> = (c, next) => limitBody(c.var.services.config.limits.maxBodyBytes)(c, next);

export function openAiRoutes() {
  const app = createRouter();
  app.use(
    `${OPENAI_BASE}/*`,
    bodyLimit,
    requireJsonContentType(() => false),
    requireApiKey,
  );
  chatCompletions(app);
  createResponse(app);
  getResponse(app);
  cancelResponse(app);
  models(app);
  return app;
}
