import { type Span, SpanKind, SpanStatusCode, type Tracer, context, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { RunInstrument } from "./telemetry";

/**
 * OpenTelemetry traces over OTLP/HTTP (JSON), built only when OTEL_EXPORTER_OTLP_ENDPOINT is set:
 * without it nothing here is loaded into a request's path. Spans: one per HTTP request (server),
 * one per run (`invoke_agent`), one per model call (`chat`) and tool call (`execute_tool`) as
 * children of their run, with the GenAI semantic conventions' attribute names. Prompt and tool
 * contents are never recorded. Parents are passed explicitly (no global context manager), so the
 * gateway does not install async hooks for this.
 */
export interface Tracing extends RunInstrument {
  tracer: Tracer;
  /** Starts a request's server span; `end` records the status and the route. */
  startRequest(method: string, path: string, requestId: string): { traceId: string; end(route: string, status: number, attributes: Record<string, string | undefined>): void };
  /** Sends what is buffered (tests, shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function createTracing(options: { tracesUrl: string; serviceName: string }): Tracing {
  const exporter = new OTLPTraceExporter({ url: options.tracesUrl });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("openpaw");
  const childOf = (parent: Span) => trace.setSpan(context.active(), parent);

  return {
    tracer,
    startRequest(method, path, requestId) {
      const span = tracer.startSpan(method, {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": method, "url.path": path, "openpaw.request_id": requestId },
      });
      return {
        traceId: span.spanContext().traceId,
        end(route, status, attributes) {
          span.updateName(`${method} ${route}`);
          span.setAttribute("http.route", route);
          span.setAttribute("http.response.status_code", status);
          for (const [k, v] of Object.entries(attributes)) if (v !== undefined) span.setAttribute(k, v);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    startRun(info) {
      const run = tracer.startSpan(`invoke_agent ${info.agentId}`, {
        kind: SpanKind.INTERNAL,
        attributes: {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.id": info.agentId,
          "gen_ai.provider.name": info.provider,
          "gen_ai.system": info.provider,
          "gen_ai.request.model": info.model,
          "openpaw.run_id": info.runId,
          "openpaw.org_id": info.orgId,
        },
      });
      return {
        traceId: run.spanContext().traceId,
        observer: {
          modelCall({ provider, model }) {
            const span = tracer.startSpan(
              `chat ${model}`,
              {
                kind: SpanKind.CLIENT,
                attributes: {
                  "gen_ai.operation.name": "chat",
                  "gen_ai.provider.name": provider,
                  "gen_ai.system": provider,
                  "gen_ai.request.model": model,
                  "openpaw.run_id": info.runId,
                },
              },
              childOf(run),
            );
            return ({ usage, error }) => {
              span.setAttribute("gen_ai.usage.input_tokens", usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens);
              span.setAttribute("gen_ai.usage.output_tokens", usage.outputTokens);
              span.setAttribute("gen_ai.usage.cache_read.input_tokens", usage.cacheReadTokens);
              span.setAttribute("gen_ai.usage.cache_creation.input_tokens", usage.cacheWriteTokens);
              if (error) {
                span.setAttribute("error.type", error);
                span.setStatus({ code: SpanStatusCode.ERROR });
              }
              span.end();
            };
          },
          toolCall({ tool, id }) {
            const span = tracer.startSpan(
              `execute_tool ${tool}`,
              {
                kind: SpanKind.INTERNAL,
                attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, "gen_ai.tool.call.id": id, "openpaw.run_id": info.runId },
              },
              childOf(run),
            );
            return ({ isError }) => {
              if (isError) {
                span.setAttribute("error.type", "tool_error");
                span.setStatus({ code: SpanStatusCode.ERROR });
              }
              span.end();
            };
          },
        },
        end({ status, inputTokens, outputTokens, error }) {
          run.setAttribute("openpaw.run_status", status);
          run.setAttribute("gen_ai.usage.input_tokens", inputTokens);
          run.setAttribute("gen_ai.usage.output_tokens", outputTokens);
          if (error) {
            run.setAttribute("error.type", error);
            run.setStatus({ code: SpanStatusCode.ERROR });
          }
          run.end();
        },
      };
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
