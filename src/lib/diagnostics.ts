import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import type { StatementTimings, StatementTimingsSnapshot } from "./statement-timings";

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
    /** The V8 heap's reserved size: live objects, garbage not yet collected and free space. */
    heapTotalBytes: number;
    /** Memory outside the V8 heap held by JavaScript objects (Buffers, ArrayBuffers). */
    externalBytes: number;
    uptimeSeconds: number;
    /** Time per SQL statement since the last reset (OPENPAW_DIAGNOSTICS_SQL=true); absent otherwise. */
    statements?: StatementTimingsSnapshot;
  };
  stop(): void;
}

export function createDiagnostics(options: { statements?: StatementTimings | null } = {}): Diagnostics {
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
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
        uptimeSeconds: Math.round(process.uptime()),
        ...(options.statements ? { statements: options.statements.snapshot(reset) } : {}),
      };
      if (reset) histogram.reset();
      return figures;
    },
    stop: () => histogram.disable(),
  };
}
