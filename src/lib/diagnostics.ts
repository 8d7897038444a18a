import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";

/**
 * Process diagnostics for benchmarks and capacity planning (OPENPAW_DIAGNOSTICS=true): event-loop
 * delay measured inside the gateway, where load shows first, and memory. Node-only, so it is
 * mounted by the Node server rather than the portable app.
 */
export interface Diagnostics {
  /** Current figures; `reset` starts a new measurement window. */
  snapshot(reset?: boolean): {
    eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number };
    rssBytes: number;
    heapUsedBytes: number;
    uptimeSeconds: number;
  };
  stop(): void;
}

export function createDiagnostics(): Diagnostics {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
  return {
    snapshot(reset = false) {
      const memory = process.memoryUsage();
      const figures = {
        eventLoopDelayMs: {
          p50: ms(histogram.percentile(50)),
          p99: ms(histogram.percentile(99)),
          max: ms(histogram.max),
          mean: ms(histogram.mean),
        },
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        uptimeSeconds: Math.round(process.uptime()),
      };
      if (reset) histogram.reset();
      return figures;
    },
    stop: () => histogram.disable(),
  };
}
