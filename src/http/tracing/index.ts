import type { MiddlewareHandler } from "hono";
import type { Tracing } from "../../lib/tracing";
import type { AppEnv } from "../context";
import { routeTemplate } from "../metrics";

export interface TracingOptions {
  tracing: Tracing;
}

/**
 * A server span per request (`POST /v1/agent/:agentId/chat`), with the request id, the route
 * template, the status, the caller's org and the run the request started (`openpaw.run_id`, the
 * run's own span carries the same). Sets `c.var.traceId` for the request's log line.
 *
 * @example
 * if (services.telemetry.tracing) app.use("*", requestTracing({ tracing: services.telemetry.tracing }));
 */
export function requestTracing(options: TracingOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const span = options.tracing.startRequest(c.req.method, c.req.path, c.get("requestId"));
    c.set("traceId", span.traceId);
    try {
      await next();
    } finally {
      const principal = c.get("principal");
      span.end(routeTemplate(c), c.res.status, {
        "openpaw.org_id": c.get("access")?.orgId ?? (principal?.kind === "key" ? principal.orgId : undefined),
        "openpaw.run_id": c.res.headers.get("x-run-id") ?? undefined,
      });
    }
  };
}
