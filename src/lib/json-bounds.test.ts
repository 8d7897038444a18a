import { describe, expect, it } from "vitest";
import { checkJsonBounds } from "./json-bounds";

const deepArray = (depth: number) => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`);
const deepObject = (depth: number) => JSON.parse(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
const loose = { maxDepth: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER };

/** A random JSON value (bounded size), for comparing our byte count with JSON.stringify's. */
function randomValue(seed: { n: number }, depth = 0): unknown {
  const r = () => {
    seed.n = (seed.n * 1103515245 + 12345) % 2 ** 31;
    return seed.n / 2 ** 31;
  };
  const kind = Math.floor(r() * (depth > 4 ? 5 : 7));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r() > 0.5;
    case 2:
      return Math.round((r() - 0.5) * 1e6) / (r() > 0.5 ? 1 : 1000);
    case 3:
      return ["", "plain", 'quo"te', "back\\slash", "new\nline", "\u0000\u001f", "🦦 ünï", "\u2028"][Math.floor(r() * 8)];
    case 4:
      return "x".repeat(Math.floor(r() * 40));
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(seed, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, (_, i) => [`k${i}${r() > 0.8 ? "é\"" : ""}`, randomValue(seed, depth + 1)]));
  }
}

describe("checkJsonBounds", () => {
  it("measures exactly JSON.stringify's UTF-8 length", () => {
    const seed = { n: 42 };
    for (let i = 0; i < 500; i++) {
      const value = randomValue(seed);
      const size = new TextEncoder().encode(JSON.stringify(value)).length;
      expect(checkJsonBounds(value, { maxDepth: 100, maxBytes: size }).ok).toBe(true);
      expect(checkJsonBounds(value, { maxDepth: 100, maxBytes: size - 1 })).toMatchObject({ ok: false, reason: "size" });
    }
  });

  it("counts depth by nested objects and arrays", () => {
    expect(checkJsonBounds("text", { maxDepth: 0, maxBytes: 100 }).ok).toBe(true);
    expect(checkJsonBounds({ a: [1] }, { maxDepth: 2, maxBytes: 100 }).ok).toBe(true);
    expect(checkJsonBounds({ a: [1] }, { maxDepth: 1, maxBytes: 100 })).toMatchObject({ ok: false, reason: "depth" });
    expect(checkJsonBounds(deepObject(20), { maxDepth: 20, maxBytes: 1_000 }).ok).toBe(true);
    expect(checkJsonBounds(deepObject(21), { maxDepth: 20, maxBytes: 1_000 })).toMatchObject({ ok: false, reason: "depth" });
  });

  it("walks 200,000 levels without recursion (JSON.stringify overflows the stack there)", () => {
    const value = deepArray(200_000);
    expect(() => JSON.stringify(value)).toThrow(RangeError);
    expect(checkJsonBounds(value, loose).ok).toBe(true);
    expect(checkJsonBounds(value, { maxDepth: 64, maxBytes: 1_000_000 })).toMatchObject({ ok: false, reason: "depth" });
  });

  it("stops on cycles and non-JSON values instead of looping or throwing", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(checkJsonBounds(cycle, { maxDepth: 1_000_000, maxBytes: 10_000 })).toMatchObject({ ok: false });
    expect(checkJsonBounds({ f: () => 1 }, loose)).toMatchObject({ ok: false, reason: "type" });
    expect(checkJsonBounds({ n: 10n }, loose)).toMatchObject({ ok: false, reason: "type" });
  });
});
