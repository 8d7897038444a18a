import { describe, expect, it } from "vitest";
import { createDiagnostics } from "./diagnostics";

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
});
