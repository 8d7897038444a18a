import { approvalRoutes } from "./features/approvals/routes";
import { OpenAPIHono } from "@hono/zod-openapi";
import { webhookRoutes } from "./features/webhooks/routes";
import { scheduleRoutes } from "./features/schedules/routes";
import { agentRoutes } from "./features/agents/routes";
import { channelRoutes } from "./features/channels/routes";
import { mcpServerRoutes } from "./features/mcp/routes";
import { agentMcpRoutes } from "./features/mcp-server/routes";
import { apiKeyRoutes } from "./features/api-keys/routes";
import { authRoutes } from "./features/auth/routes";
import { billingRoutes } from "./features/billing/routes";
import { customDomainRoutes, tlsAskRoutes } from "./features/domains/routes";
import { healthRoutes } from "./features/health/routes";
import { modelRoutes } from "./features/models/routes";
import { chatRoutes } from "./features/chat/routes";
import { runRoutes } from "./features/runs/routes";
import { conversationRoutes } from "./features/conversations/routes";
import { fileRoutes } from "./features/files/routes";
import { memoryRoutes } from "./features/memory/routes";
import { operatorRoutes } from "./features/operator/routes";
import { isOpenAiPath, openAiErrorEnvelope } from "./features/openai/errors";
import { openAiRoutes } from "./features/openai/routes";
import { orgRoutes } from "./features/orgs/routes";
import { skillRoutes } from "./features/skills/routes";
import { usageRoutes } from "./features/usage/routes";
import type { AppEnv } from "./http/context";
import { ApiError, createErrorHandler } from "./http/errors";
import { hostRouting } from "./http/host-routing";
import { idempotency } from "./http/idempotency";
import { requestLimits } from "./http/request-limits";
import { httpMetrics } from "./http/metrics";
import { requestTracing } from "./http/tracing";
import { accessLog, csrfOriginCheck, limitBody, onRequestsWithBodies, requestBasics, requireJsonContentType } from "./http/middleware";
import { RunStreamMessageSchema } from "./features/runs/event-schemas";
import { SECURITY_SCHEMES } from "./http/openapi";
import { dashboardRoutes, htmlNotFound } from "./dashboard/routes";
import type { Services } from "./services";

/** Workspace file uploads: raw bytes, any media type, under their own body limit. */
const isUploadPath = (path: string) => /^\/v1\/orgs\/[^/]+\/files\/content$/.test(path);

/** Paths that take a non-JSON body (their routes check the media type themselves). */
const nonJsonBodies = (path: string, mediaType: string) =>
  path === "/v1/webhooks/stripe" ||
  (/^\/v1\/orgs\/[^/]+\/skills(\/[^/]+)?$/.test(path) && mediaType === "text/markdown") ||
  isUploadPath(path);

/** Builds the gateway's Hono app from its services. */
export function createApp(services: Services): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", requestBasics(services));
  const { metrics, tracing } = services.telemetry;
  if (metrics) app.use("*", httpMetrics({ metrics }));
  if (tracing) app.use("*", requestTracing({ tracing }));
  app.use("*", accessLog);
  // After the request id and access log, so a 421 carries X-Request-Id and is logged like any response.
  app.use("*", hostRouting);
  // File uploads have their own, larger limit (maxUploadBytes) on their route.
  const bodyLimit = limitBody(services.config.limits.maxBodyBytes);
  app.use(
    "/v1/*",
    onRequestsWithBodies(
      (c, next) => (isUploadPath(c.req.path) ? next() : bodyLimit(c, next)),
      requireJsonContentType(nonJsonBodies),
      csrfOriginCheck(services.config.publicUrl),
    ),
  );
  // Limits before idempotency: a refused request claims no key.
  if (services.limits.requests) {
    const limited = requestLimits({
      counter: services.limits.requests,
      limitsOf: async (orgId) => {
        const plan = await services.quota.planOf(orgId);
        return { perKey: plan.rateLimitPerKey, perOrg: plan.rateLimitPerOrg };
      },
    });
    for (const path of ["/v1/*", "/openai/*", "/mcp"]) app.use(path, limited);
  }
  const idempotent = idempotency({ store: services.idempotency, skip: isUploadPath });
  app.use("/v1/*", idempotent);
  app.use("/openai/*", idempotent);

  app.route("/", healthRoutes());
  app.route("/", authRoutes());
  app.route("/", orgRoutes());
  app.route("/", apiKeyRoutes());
  app.route("/", modelRoutes());
  app.route("/", agentRoutes());
  app.route("/", skillRoutes());
  app.route("/", usageRoutes());
  app.route("/", billingRoutes());
  app.route("/", customDomainRoutes());
  app.route("/", tlsAskRoutes());
  app.route("/", memoryRoutes());
  app.route("/", chatRoutes());
  app.route("/", runRoutes());
  app.route("/", webhookRoutes());
  app.route("/", scheduleRoutes());
  app.route("/", approvalRoutes());
  app.route("/", conversationRoutes());
  app.route("/", fileRoutes());
  app.route("/", mcpServerRoutes());
  app.route("/", channelRoutes());
  app.route("/", operatorRoutes());
  app.route("/", openAiRoutes());
  app.route("/", agentMcpRoutes());

  const openApiConfig = {
    openapi: "3.1.0",
    info: {
      title: "OpenPaw",
      version: "0.1.0",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
      description:
        "Self-hostable gateway for AI agents. Authenticate with `Authorization: Bearer sk_live_...` or the dashboard's session cookie.",
    },
    servers: [{ url: services.config.publicUrl }],
  };
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  // Named by the streams' `x-itemSchema` (an extension the generator does not follow), so registered here.
  app.openAPIRegistry.register("RunStreamMessage", RunStreamMessageSchema);
  app.doc31("/openapi.json", openApiConfig);
  // Last: the dashboard owns only its own paths (DASHBOARD_PATHS: its pages, /docs, assets), never /v1 or the probes.
  app.route("/", dashboardRoutes(app));

  // Under /openai/v1 errors take OpenAI's shape, so the OpenAI SDKs raise their typed errors.
  const handleError = createErrorHandler([{ matches: isOpenAiPath, envelope: openAiErrorEnvelope }]);
  app.notFound(
    (c) =>
      htmlNotFound(c) ??
      handleError(new ApiError("not_found_error", `No route for ${c.req.method} ${c.req.path}.`, { code: "route_not_found" }), c),
  );
  app.onError((error, c) => handleError(error, c));
  return app;
}
