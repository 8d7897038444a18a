import type { Context, MiddlewareHandler } from "hono";
import type { Metrics } from "../../lib/metrics";
import type { AppEnv } from "../context";

/**
 * The route template a request matched (`/v1/orgs/:orgId/agents`), never its path, so metrics
 * and logs have few distinct values and no ids. A request no route matched ends on a
 * middleware's wildcard: "unmatched".
 */
export function routeTemplate(c: Context<AppEnv>): string {
  const route = c.req.routePath;
  return c.res.status === 404 && route.endsWith("*") ? "unmatched" : route;
}

export interface MetricsOptions {
  metrics: Metrics;
}

/**
 * Counts every request by method, route template and status, with its latency, in
 * `openpaw_http_requests_total` and `openpaw_http_request_duration_seconds`. A stream is
 * measured until its headers are handed over (its length is the run's, in the run metrics).
 *
 * @example
 * if (services.telemetry.metrics) app.use("*", httpMetrics({ metrics: services.telemetry.metrics }));
 */
export function httpMetrics(options: MetricsOptions): MiddlewareHandler<AppEnv> {
  const { metrics } = options;
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      metrics.request(c.req.method, routeTemplate(c), c.res.status, (performance.now() - started) / 1000);
    }
  };
}
