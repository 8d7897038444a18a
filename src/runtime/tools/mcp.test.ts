import { describe, expect, it } from "vitest";
import { namespacedToolName, resultText, sanitizeInputSchema } from "./mcp";
import { toJsonSchema } from "./schema";
import { mcpToolDefinitions } from "./mcp";

describe("MCP tool names and schemas for providers", () => {
  it("namespaces names within 64 characters of [a-zA-Z0-9_-], unique and stable", () => {
    expect(namespacedToolName("docs", "search", new Set())).toBe("mcp__docs__search");
    expect(namespacedToolName("docs", "files.read/v2", new Set())).toBe("mcp__docs__files_read_v2");
    const long = namespacedToolName("docs", "x".repeat(100), new Set());
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^mcp__docs__x+_[0-9a-z]{6}$/);
    expect(namespacedToolName("docs", "x".repeat(100), new Set())).toBe(long);
    const taken = new Set(["mcp__docs__a_b"]);
    const other = namespacedToolName("docs", "a.b", taken);
    expect(other).not.toBe("mcp__docs__a_b");
    expect(other).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });

  it("keeps object schemas, drops document keys, and turns anything else into an empty object schema", () => {
    expect(sanitizeInputSchema({ $schema: "x", type: "object", properties: { q: { type: "string" } }, required: ["q"] })).toEqual({
      type: "object",
      properties: { q: { type: "string" } },
      required: ["q"],
    });
    expect(sanitizeInputSchema({ type: "string" })).toEqual({ type: "object", properties: {} });
    expect(sanitizeInputSchema(null)).toEqual({ type: "object", properties: {} });
    expect(sanitizeInputSchema({ properties: [], required: "q" })).toEqual({ type: "object", properties: {} });
  });

  it("hands the server's schema to the model unchanged and accepts any object as arguments", () => {
    const schema = { type: "object", properties: { q: { type: "string", description: "query" } }, required: ["q"] };
    const connector = { listTools: async () => [], callTool: async () => ({ content: "" }) };
    const [tool] = mcpToolDefinitions({ name: "s", url: "https://example.com", headers: {} }, [{ name: "find", description: "Find.", inputSchema: schema }], connector, 1000);
    expect(toJsonSchema(tool.input)).toMatchObject(schema);
    expect(tool.input.safeParse({ q: "x", extra: 1 }).success).toBe(true);
    expect(tool.input.safeParse("x").success).toBe(false);
  });

  it("bounds what a server sends before anything serialises it: deep schemas and structured results", () => {
    const deep = (depth: number) => JSON.parse(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
    const schema = { type: "object", properties: { q: deep(5_000) } };
    expect(() => JSON.stringify(schema)).toThrow(RangeError);
    expect(sanitizeInputSchema(schema)).toEqual({ type: "object", properties: {} });
    const nested = { type: "object", properties: { q: deep(10) } };
    expect(sanitizeInputSchema(nested)).toEqual(nested);

    expect(resultText({ structuredContent: deep(5_000) })).toBe("[structured result too deeply nested or too large to show]");
    expect(resultText({ structuredContent: { ok: true } })).toBe('{"ok":true}');
  });
});
