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
  it("has today's models at their published prices, cache prices per model, and keeps the seed's model", () => {
    const catalogue = createModelCatalogue(none);
    expect(catalogue.get("claude-sonnet-4-20250514")).toMatchObject({
      provider: "anthropic",
      providerModel: "claude-sonnet-4-20250514",
      prices: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
      local: false,
      pricesKnown: true,
      note: null,
    });
    // Cache hits are not a fixed 0.1x any more: Sonnet 5.5 and Opus 5.5 read at 0.05x.
    expect(catalogue.get("claude-sonnet-5-5")?.prices).toEqual({ input: 2, output: 10, cacheRead: 0.1, cacheWrite: 2.5 });
    expect(catalogue.get("claude-opus-5-5")?.prices).toEqual({ input: 4, output: 20, cacheRead: 0.2, cacheWrite: 5 });
    expect(catalogue.get("claude-fable-5-2")?.prices).toEqual({ input: 8, output: 40, cacheRead: 0.2, cacheWrite: 10 });
    expect(catalogue.get("claude-haiku-5-5")?.prices.longContext).toEqual({ aboveInputTokens: 100_000, input: 0.5, output: 2.5, cacheRead: 0.05, cacheWrite: 0.625 });
    expect(catalogue.get("claude-haiku-4-5-20251001")?.prices).toEqual({ input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 });
    expect(catalogue.get("gpt-6-sol")).toMatchObject({ contextWindow: 1_050_000, maxOutputTokens: 128_000, requestParams: { reasoning_effort: "none" } });
    // Retired models are gone.
    expect(catalogue.get("claude-opus-4-1-20250805")).toBeUndefined();
    expect(catalogue.get("claude-3-5-haiku-20241022")).toBeUndefined();
    expect(catalogue.ids()).toEqual(catalogue.list().map((m) => m.id));
    expect(catalogue.get("nope")).toBeUndefined();
  });

  it("defaults new agents to a mid-priced model of a configured provider, never the most expensive", () => {
    expect(createModelCatalogue(none).defaultModel().id).toBe("claude-sonnet-5-5");
    expect(createModelCatalogue({ ...none, anthropicConfigured: true }).defaultModel().id).toBe("claude-sonnet-5-5");
    expect(createModelCatalogue({ ...none, openaiConfigured: true }).defaultModel().id).toBe("gpt-6-sol");
    const local = createModelCatalogue({ ...none, openaiConfigured: true, localServer: "http://localhost:11434/v1" });
    local.setLocalModels([{ id: "llama3.2:latest" }]);
    // OpenAI's own models are not on a local server: its model is the default.
    expect(local.defaultModel().id).toBe("llama3.2:latest");
    expect(local.get("gpt-6-sol")?.available).toBe(false);
  });

  it("lists a local server's models by themselves: free, marked local, unavailable once no longer served", () => {
    const catalogue = createModelCatalogue({
      ...none,
      openaiConfigured: true,
      localServer: "http://localhost:11434/v1",
      modelsFile: file([{ id: "qwen3:8b", provider: "openai", contextWindow: 40_960, maxOutputTokens: 8_192, prices: { input: 0.05, output: 0.1 } }]),
    });
    catalogue.setLocalModels([{ id: "llama3.2:latest", contextWindow: 131_072 }, { id: "qwen3:8b" }]);
    expect(catalogue.get("llama3.2:latest")).toMatchObject({
      provider: "openai",
      providerModel: "llama3.2:latest",
      contextWindow: 131_072,
      prices: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
      available: true,
      local: true,
      pricesKnown: true,
    });
    expect(catalogue.get("llama3.2:latest")?.note).toContain("http://localhost:11434/v1");
    // Configured prices win over "free".
    expect(catalogue.get("qwen3:8b")).toMatchObject({ local: true, prices: { input: 0.05, output: 0.1 }, contextWindow: 40_960 });
    catalogue.setLocalModels([{ id: "qwen3:8b" }]);
    expect(catalogue.get("llama3.2:latest")).toMatchObject({ available: false, local: true });
    expect(catalogue.get("llama3.2:latest")?.note).toContain("No longer listed");
  });

  it("adds a model a provider serves but the catalogue does not know, with price unknown", () => {
    const catalogue = createModelCatalogue({ ...none, anthropicConfigured: true });
    const added = catalogue.addServed("anthropic", { id: "claude-sonnet-6", name: "Claude Sonnet 6", contextWindow: 1_000_000, maxOutputTokens: 128_000 });
    expect(added).toMatchObject({ id: "claude-sonnet-6", name: "Claude Sonnet 6", available: true, local: false, pricesKnown: false });
    expect(added.note).toMatch(/price unknown/);
    expect(catalogue.get("claude-sonnet-6")).toEqual(added);
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
      local: false,
      pricesKnown: true,
      note: null,
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

  it("prices a call above a long-context threshold at the long-context rates, on all of its tokens", () => {
    const haiku = createModelCatalogue(none).get("claude-haiku-5-5")!;
    const short = { inputTokens: 60_000, outputTokens: 1_000, cacheReadTokens: 40_000, cacheWriteTokens: 0 };
    expect(costOf(haiku, short)).toBeCloseTo((60_000 * 0.1 + 1_000 * 0.5 + 40_000 * 0.01) / 1e6, 12);
    const long = { ...short, cacheWriteTokens: 1 };
    expect(costOf(haiku, long)).toBeCloseTo((60_000 * 0.5 + 1_000 * 2.5 + 40_000 * 0.05 + 0.625) / 1e6, 12);
  });
});
