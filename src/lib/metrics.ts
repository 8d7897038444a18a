import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RunObserver } from "../runtime/observer";

/**
 * Prometheus metrics (OPENPAW_METRICS=true; README "Metrics"). Built once in services; null when
 * off, so nothing is measured then. Hot paths keep the labelled children they use in small maps,
 * so a request costs one map lookup and no allocation beyond its key.
 */
export interface Metrics {
  registry: Registry;
  /** One HTTP request ended: `route` is the route template (e.g. /v1/orgs/:orgId/agents), never the path. */
  request(method: string, route: string, status: number, seconds: number): void;
  /** One run ended with `status` (completed, failed, cancelled, max_iterations, ...). */
  runEnded(status: string): void;
  /** Model and tool calls of runs. */
  observer: RunObserver;
  /**
   * Adds a gauge read at scrape time (e.g. a feature's backlog: webhook deliveries waiting).
   * `read` returns one value or values by one label.
   */
  gauge(name: string, help: string, read: () => Promise<number | Record<string, number>>, label?: string): void;
  /** Prometheus text of everything. */
  text(): Promise<string>;
  contentType: string;
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const MODEL_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160];

export function createMetrics(options: { onError?: (error: unknown) => void } = {}): Metrics {
  const registry = new Registry();
  // Process figures, event-loop delay (nodejs_eventloop_lag_* from monitorEventLoopDelay) and GC.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const requests = new Counter({ name: "openpaw_http_requests_total", help: "HTTP requests by method, route template and status.", labelNames: ["method", "route", "status"], registers: [registry] });
  const requestSeconds = new Histogram({
    name: "openpaw_http_request_duration_seconds",
    help: "HTTP request latency (until the response is handed over; streams: until their headers) by method and route template.",
    labelNames: ["method", "route"],
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const runs = new Counter({ name: "openpaw_runs_total", help: "Runs ended on this gateway, by status.", labelNames: ["status"], registers: [registry] });
  const modelCalls = new Counter({ name: "openpaw_model_calls_total", help: "Model calls by provider, model and outcome (ok or the error kind).", labelNames: ["provider", "model", "outcome"], registers: [registry] });
  const modelSeconds = new Histogram({ name: "openpaw_model_call_duration_seconds", help: "Model call latency (whole streamed answer) by provider and model.", labelNames: ["provider", "model"], buckets: MODEL_BUCKETS, registers: [registry] });
  const modelTokens = new Counter({ name: "openpaw_model_tokens_total", help: "Tokens of model calls by provider, model and kind (input, output, cache_read, cache_write).", labelNames: ["provider", "model", "kind"], registers: [registry] });
  const toolCalls = new Counter({ name: "openpaw_tool_calls_total", help: "Tool calls by tool and outcome (ok or error).", labelNames: ["tool", "outcome"], registers: [registry] });
  const toolSeconds = new Histogram({ name: "openpaw_tool_call_duration_seconds", help: "Tool call latency by tool.", labelNames: ["tool"], buckets: SECONDS_BUCKETS, registers: [registry] });

  const requestChildren = new Map<string, { count: Counter.Internal; seconds: Histogram.Internal<string> }>();
  const requestChild = (method: string, route: string, status: number) => {
    const key = `${method} ${status} ${route}`;
    let child = requestChildren.get(key);
    if (!child) {
      child = { count: requests.labels(method, route, String(status)), seconds: requestSeconds.labels(method, route) };
      // Route templates and statuses are few; the cap only guards against a bug labelling by path.
      if (requestChildren.size < 5_000) requestChildren.set(key, child);
    }
    return child;
  };

  const observer: RunObserver = {
    modelCall({ provider, model }) {
      const started = performance.now();
      return ({ usage, error }) => {
        modelSeconds.labels(provider, model).observe((performance.now() - started) / 1000);
        modelCalls.labels(provider, model, error ?? "ok").inc();
        modelTokens.labels(provider, model, "input").inc(usage.inputTokens);
        modelTokens.labels(provider, model, "output").inc(usage.outputTokens);
        modelTokens.labels(provider, model, "cache_read").inc(usage.cacheReadTokens);
        modelTokens.labels(provider, model, "cache_write").inc(usage.cacheWriteTokens);
      };
    },
    toolCall({ tool }) {
      const started = performance.now();
      return ({ isError }) => {
        toolSeconds.labels(tool).observe((performance.now() - started) / 1000);
        toolCalls.labels(tool, isError ? "error" : "ok").inc();
      };
    },
  };

  return {
    registry,
    request(method, route, status, seconds) {
      const child = requestChild(method, route, status);
      child.count.inc();
      child.seconds.observe(seconds);
    },
    runEnded: (status) => runs.labels(status).inc(),
    observer,
    gauge(name, help, read, label) {
      new Gauge({
        name,
        help,
        labelNames: label ? [label] : [],
        registers: [registry],
        async collect() {
          try {
            const value = await read();
            this.reset();
            if (typeof value === "number") this.set(value);
            else if (label) for (const [k, v] of Object.entries(value)) this.labels(k).set(v);
          } catch (error) {
            // A scrape must not fail because one source is down (the database, say): that gauge is left out.
            this.reset();
            options.onError?.(error);
          }
        },
      });
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
