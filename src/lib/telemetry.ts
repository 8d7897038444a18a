import type { RunObserver } from "../runtime/observer";
import type { Metrics } from "./metrics";
import type { Tracing } from "./tracing";

/** What a run's instruments need to know of it. */
export interface RunInfo {
  runId: string;
  orgId: string;
  agentId: string;
  provider: string;
  model: string;
}

/** One run's instruments: the observer handed to the loop, and its end. */
export interface RunTelemetry {
  observer: RunObserver | undefined;
  /** The trace id of the run's span, for its log line; null without tracing. */
  traceId: string | null;
  end(outcome: { status: string; inputTokens: number; outputTokens: number; error: string | null }): void;
}

/** A source of run instruments (metrics, traces); several are combined into one. */
export interface RunInstrument {
  startRun(info: RunInfo): { observer: RunObserver; traceId?: string | null; end?: RunTelemetry["end"] };
}

/**
 * Metrics and traces of the gateway, built once in services from the configuration; each part is
 * null when off, and then costs nothing.
 */
export class Telemetry {
  private readonly instruments: RunInstrument[];

  constructor(
    readonly metrics: Metrics | null,
    readonly tracing: Tracing | null = null,
  ) {
    this.instruments = tracing ? [tracing] : [];
    if (metrics) this.instruments.push({ startRun: () => ({ observer: metrics.observer, end: ({ status }) => metrics.runEnded(status) }) });
  }

  startRun(info: RunInfo): RunTelemetry {
    if (this.instruments.length === 0) return { observer: undefined, traceId: null, end: () => {} };
    const started = this.instruments.map((i) => i.startRun(info));
    if (started.length === 1) {
      const [only] = started;
      return { observer: only.observer, traceId: only.traceId ?? null, end: only.end ?? (() => {}) };
    }
    return {
      traceId: started.find((s) => s.traceId)?.traceId ?? null,
      observer: {
        modelCall(call) {
          const ends = started.map((s) => s.observer.modelCall(call));
          return (outcome) => {
            for (const end of ends) end(outcome);
          };
        },
        toolCall(call) {
          const ends = started.map((s) => s.observer.toolCall(call));
          return (outcome) => {
            for (const end of ends) end(outcome);
          };
        },
      },
      end(outcome) {
        for (const s of started) s.end?.(outcome);
      },
    };
  }
}
