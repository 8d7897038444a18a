import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { costOf, createModelCatalogue } from "./catalogue";

const dir = mkdtempSync(join(tmpdir(), "openpaw-models-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(content: unknown): string {
  const path = join(dir, `models-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const none = { modelsFile: null, anthropicConfigured: false, openaiConfigured: false };

describe("model catalogue", () => {
  it("has the current Claude models at their published prices", () => {
    const catalogue = createModelCatalogue(none);
    expect(catalogue.get("claude-sonnet-4-20250514")).toMatchObject({
      provider: "anthropic",
      providerModel: "claude-sonnet-4-20250514",
      prices: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
    });
    expect(catalogue.get("claude-opus-4-1-20250805")?.prices).toEqual({ input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 });
    expect(catalogue.get("claude-opus-4-20250514")?.prices.input).toBe(15);
    expect(catalogue.get("claude-sonnet-4-5-20250929")?.prices.output).toBe(15);
    expect(catalogue.get("claude-haiku-4-5-20251001")?.prices).toEqual({ input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 });
    expect(catalogue.get("claude-3-5-haiku-20241022")?.prices).toEqual({ input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 });
    expect(catalogue.ids()).toEqual(catalogue.list().map((m) => m.id));
    expect(catalogue.get("nope")).toBeUndefined();
  });

  it("marks models unavailable when their provider has no credentials", () => {
    const onlyAnthropic = createModelCatalogue({ ...none, anthropicConfigured: true });
    expect(onlyAnthropic.get("claude-sonnet-4-20250514")?.available).toBe(true);
    expect(onlyAnthropic.get("gpt-4o")?.available).toBe(false);
    const onlyOpenai = createModelCatalogue({ ...none, openaiConfigured: true });
    expect(onlyOpenai.get("claude-sonnet-4-20250514")?.available).toBe(false);
    expect(onlyOpenai.get("gpt-4o")?.available).toBe(true);
  });

  it("adds and overrides entries from OPENPAW_MODELS_FILE", () => {
    const catalogue = createModelCatalogue({
      ...none,
      openaiConfigured: true,
      modelsFile: file([
        {
          id: "llama3.1:8b",
          provider: "openai",
          name: "Llama 3.1 8B (Ollama)",
          contextWindow: 131072,
          maxOutputTokens: 4096,
          prices: { input: 0, output: 0 },
          defaultTemperature: 0.2,
        },
        { id: "claude-sonnet-4-20250514", prices: { input: 2, output: 10 } },
      ]),
    });
    expect(catalogue.get("llama3.1:8b")).toEqual({
      id: "llama3.1:8b",
      provider: "openai",
      providerModel: "llama3.1:8b",
      name: "Llama 3.1 8B (Ollama)",
      contextWindow: 131072,
      maxOutputTokens: 4096,
      prices: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
      defaultTemperature: 0.2,
      available: true,
    });
    // An override keeps what it does not mention (name, limits, cache prices).
    expect(catalogue.get("claude-sonnet-4-20250514")).toMatchObject({
      name: "Claude Sonnet 4",
      contextWindow: 200_000,
      prices: { input: 2, output: 10, cacheRead: 0.3, cacheWrite: 3.75 },
      available: false,
    });
  });

  it("rejects a bad models file naming the entry and the field", () => {
    const make = (content: unknown) => () => createModelCatalogue({ ...none, modelsFile: file(content) });
    expect(make([{ id: "ok", provider: "openai", contextWindow: 1, maxOutputTokens: 1, prices: { input: -1, output: 0 } }])).toThrow(
      /entry 0 \("ok"\): prices\.input/,
    );
    expect(make([{ id: "new-model", provider: "openai" }])).toThrow(/entry 0 \("new-model"\): contextWindow is required/);
    expect(make([{ id: "x", provider: "mistral" }])).toThrow(/entry 0 \("x"\): provider/);
    expect(make([{ id: "x", colour: "red" }])).toThrow(/entry 0 \("x"\).*colour/);
    expect(make({ id: "x" })).toThrow(/JSON array/);
    expect(make("{not json")).toThrow(/not valid JSON/);
    expect(() => createModelCatalogue({ ...none, modelsFile: join(dir, "missing.json") })).toThrow(/cannot be read/);
  });

  it("prices usage at full precision", () => {
    const sonnet = createModelCatalogue(none).get("claude-sonnet-4-20250514")!;
    expect(costOf(sonnet, { inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, cacheWriteTokens: 100 })).toBeCloseTo(
      (1000 * 3 + 500 * 15 + 2000 * 0.3 + 100 * 3.75) / 1e6,
      15,
    );
    expect(costOf(sonnet, { inputTokens: 1, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 })).toBe(0.000003);
    expect(costOf(sonnet, { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 })).toBe(0);
  });
});
