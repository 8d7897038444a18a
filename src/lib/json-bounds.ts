/**
 * Bounds for free-form JSON (an agent's metadata, a model's tool input, an MCP server's schema).
 * JSON.parse copes with any nesting, but JSON.stringify, structured cloning, YAML and most
 * validators recurse, so a 25 KB document nested 5,000 levels deep overflows the stack wherever
 * it is next serialised. The check therefore walks the value with an explicit stack (no
 * recursion of its own) and stops at the first limit it passes, so its cost is bounded too.
 */
export interface JsonLimits {
  /** Levels of objects/arrays: `{}` and `[]` are depth 1, `{"a":[1]}` depth 2. */
  maxDepth: number;
  /** Bytes of the value as compact JSON (UTF-8), measured up to the limit and no further. */
  maxBytes: number;
}

export type JsonBoundsResult =
  | { ok: true }
  /** `path`: where inside the value the limit was passed (keys and array indexes from the top). */
  | { ok: false; reason: "depth" | "size" | "type"; message: string; path: Array<string | number> };

interface Item {
  value: unknown;
  depth: number;
  parent: Item | null;
  key: string | number | null;
}

/** The path of an item, walked up its parents (only on failure, so the walk itself stays cheap). */
function pathOf(item: Item): Array<string | number> {
  const path: Array<string | number> = [];
  for (let at: Item | null = item; at && at.key !== null; at = at.parent) path.push(at.key);
  return path.reverse();
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of a string as a JSON string literal (quotes and escapes included). */
function stringBytes(text: string): number {
  return utf8.encode(JSON.stringify(text)).length;
}

/**
 * Whether `value` stays within `limits`. Values JSON cannot represent (functions, symbols,
 * bigints, cycles) are refused as `type` or, for cycles, as `size` once the walk passes the limit.
 */
export function checkJsonBounds(value: unknown, limits: JsonLimits): JsonBoundsResult {
  const stack: Item[] = [{ value, depth: 0, parent: null, key: null }];
  let bytes = 0;
  while (stack.length > 0) {
    const item = stack.pop() as Item;
    const v = item.value;
    if (v === null || typeof v === "boolean") bytes += v === true ? 4 : v === false ? 5 : 4;
    else if (typeof v === "number") bytes += Number.isFinite(v) ? String(v).length : 4;
    else if (typeof v === "string") bytes += stringBytes(v);
    else if (typeof v === "object") {
      const depth = item.depth + 1;
      if (depth > limits.maxDepth) return { ok: false, reason: "depth", message: `Nested more than ${limits.maxDepth} levels deep.`, path: pathOf(item) };
      if (Array.isArray(v)) {
        // Brackets plus one comma between items.
        bytes += 2 + Math.max(0, v.length - 1);
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i] === undefined ? null : v[i], depth, parent: item, key: i });
      } else {
        const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
        bytes += 2 + Math.max(0, entries.length - 1);
        for (const [key, x] of entries) {
          bytes += stringBytes(key) + 1;
          stack.push({ value: x, depth, parent: item, key });
        }
      }
    } else if (v !== undefined) {
      return { ok: false, reason: "type", message: `A ${typeof v} is not a JSON value.`, path: pathOf(item) };
    }
    if (bytes > limits.maxBytes) return { ok: false, reason: "size", message: `Larger than ${limits.maxBytes} bytes as JSON.`, path: [] };
  }
  return { ok: true };
}

/** True when `value` stays within `limits` (see checkJsonBounds). */
export function withinJsonBounds(value: unknown, limits: JsonLimits): boolean {
  return checkJsonBounds(value, limits).ok;
}
