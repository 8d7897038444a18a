import { describe, expect, it } from "vitest";
import { createDiagnostics } from "./diagnostics";
import { StatementTimings } from "./statement-timings";

describe("diagnostics", () => {
  it("reports the heap's used and reserved sizes and the memory Buffers hold outside it", () => {
    const diagnostics = createDiagnostics();
    try {
      const before = diagnostics.snapshot();
      expect(before.heapTotalBytes).toBeGreaterThanOrEqual(before.heapUsedBytes);
      expect(before.rssBytes).toBeGreaterThan(before.heapUsedBytes);
      const held = Buffer.alloc(32 * 2 ** 20, 1);
      const after = diagnostics.snapshot();
      expect(after.externalBytes - before.externalBytes).toBeGreaterThanOrEqual(held.length);
    } finally {
      diagnostics.stop();
    }
  });

  it("reports statement timings only when given them, and a reset starts their window too", () => {
    const plain = createDiagnostics();
    const timings = new StatementTimings();
    const withSql = createDiagnostics({ statements: timings });
    try {
      expect(plain.snapshot()).not.toHaveProperty("statements");
      timings.record("commit", 0.5);
      expect(withSql.snapshot(true).statements?.top).toEqual([{ sql: "commit", count: 1, totalMs: 0.5, meanUs: 500 }]);
      expect(withSql.snapshot().statements).toEqual({ count: 0, totalMs: 0, top: [] });
    } finally {
      plain.stop();
      withSql.stop();
    }
  });
});
