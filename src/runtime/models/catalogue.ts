import { readFileSync } from "node:fs";
import { z } from "zod";
import type { TokenUsage } from "./types";

export type ModelProvider = "anthropic" | "openai";

/** USD per million tokens, by token kind. */
export interface ModelPrices {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** A model agents may use: who serves it, its limits and its prices. */
export interface ModelInfo {
  /** Our id, what an agent's `model` field names. */
  id: string;
  provider: ModelProvider;
  /** The id the upstream API expects. */
  providerModel: string;
  name: string;
  contextWindow: number;
  maxOutputTokens: number;
  prices: ModelPrices;
  /** Temperature a new agent gets when it does not choose one. */
  defaultTemperature?: number;
  /** False when the deployment has no credentials for the model's provider. */
  available: boolean;
}

type CatalogueEntry = Omit<ModelInfo, "available">;

const anthropic = (
  id: string,
  name: string,
  maxOutputTokens: number,
  input: number,
  output: number,
  contextWindow = 200_000,
): CatalogueEntry => ({
  id,
  provider: "anthropic",
  providerModel: id,
  name,
  contextWindow,
  maxOutputTokens,
  // Anthropic bills 5-minute cache writes at 1.25x input and cache hits at 0.1x input.
  prices: { input, output, cacheRead: round(input * 0.1), cacheWrite: round(input * 1.25) },
});

const openai = (
  id: string,
  name: string,
  contextWindow: number,
  maxOutputTokens: number,
  input: number,
  output: number,
  cacheRead: number,
): CatalogueEntry => ({
  id,
  provider: "openai",
  providerModel: id,
  name,
  contextWindow,
  maxOutputTokens,
  // OpenAI does not bill cache writes separately (cached prompts cost normal input once).
  prices: { input, output, cacheRead, cacheWrite: input },
});

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/**
 * Built-in models with list prices in USD per million tokens (Anthropic's and OpenAI's published
 * pricing pages). OPENPAW_MODELS_FILE adds entries or overrides these by id.
 */
export const BUILT_IN_MODELS: readonly CatalogueEntry[] = [
  anthropic("claude-opus-4-6", "Claude Opus 4.6", 128_000, 5, 25),
  anthropic("claude-sonnet-4-6", "Claude Sonnet 4.6", 64_000, 3, 15),
  anthropic("claude-opus-4-5-20251101", "Claude Opus 4.5", 64_000, 5, 25),
  anthropic("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 64_000, 3, 15),
  anthropic("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 64_000, 1, 5),
  anthropic("claude-opus-4-1-20250805", "Claude Opus 4.1", 32_000, 15, 75),
  anthropic("claude-opus-4-20250514", "Claude Opus 4", 32_000, 15, 75),
  anthropic("claude-sonnet-4-20250514", "Claude Sonnet 4", 64_000, 3, 15),
  anthropic("claude-3-5-haiku-20241022", "Claude Haiku 3.5", 8_192, 0.8, 4),
  openai("gpt-4.1", "GPT-4.1", 1_047_576, 32_768, 2, 8, 0.5),
  openai("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, 32_768, 0.4, 1.6, 0.1),
  openai("gpt-4o", "GPT-4o", 128_000, 16_384, 2.5, 10, 1.25),
  openai("gpt-4o-mini", "GPT-4o mini", 128_000, 16_384, 0.15, 0.6, 0.075),
];

const Price = z.number().min(0).max(1_000_000);
const PricesSchema = z.strictObject({
  input: Price,
  output: Price,
  cacheRead: Price.optional(),
  cacheWrite: Price.optional(),
});

/** One entry of OPENPAW_MODELS_FILE. Fields other than `id` may be left out when overriding a built-in. */
const FileEntrySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/, "must be 1-200 characters: letters, digits and . _ : / @ -"),
  provider: z.enum(["anthropic", "openai"]).optional(),
  providerModel: z.string().min(1).max(200).optional(),
  name: z.string().min(1).max(200).optional(),
  contextWindow: z.number().int().min(1).optional(),
  maxOutputTokens: z.number().int().min(1).optional(),
  prices: PricesSchema.optional(),
  defaultTemperature: z.number().min(0).max(1).optional(),
});

type FileEntry = z.infer<typeof FileEntrySchema>;

/** The models agents may use, keyed by our id, in a stable order (built-ins first). */
export class ModelCatalogue {
  private readonly models = new Map<string, ModelInfo>();

  constructor(models: readonly ModelInfo[]) {
    for (const model of models) this.models.set(model.id, model);
  }

  get(id: string): ModelInfo | undefined {
    return this.models.get(id);
  }

  list(): ModelInfo[] {
    return [...this.models.values()];
  }

  ids(): string[] {
    return [...this.models.keys()];
  }
}

/** Merges a file entry over the built-in of the same id, or builds a new one (then every field is needed). */
function entryFromFile(entry: FileEntry, index: number, base: CatalogueEntry | undefined): CatalogueEntry {
  const where = `OPENPAW_MODELS_FILE: entry ${index} ("${entry.id}")`;
  if (!base) {
    for (const field of ["provider", "contextWindow", "maxOutputTokens", "prices"] as const) {
      if (entry[field] === undefined) throw new Error(`${where}: ${field} is required for a model that is not built in`);
    }
  }
  const prices = entry.prices
    ? {
        input: entry.prices.input,
        output: entry.prices.output,
        cacheRead: entry.prices.cacheRead ?? base?.prices.cacheRead ?? entry.prices.input,
        cacheWrite: entry.prices.cacheWrite ?? base?.prices.cacheWrite ?? entry.prices.input,
      }
    : (base?.prices as ModelPrices);
  const merged: CatalogueEntry = {
    id: entry.id,
    provider: entry.provider ?? (base?.provider as ModelProvider),
    providerModel: entry.providerModel ?? base?.providerModel ?? entry.id,
    name: entry.name ?? base?.name ?? entry.id,
    contextWindow: entry.contextWindow ?? (base?.contextWindow as number),
    maxOutputTokens: entry.maxOutputTokens ?? (base?.maxOutputTokens as number),
    prices,
  };
  const defaultTemperature = entry.defaultTemperature ?? base?.defaultTemperature;
  if (defaultTemperature !== undefined) merged.defaultTemperature = defaultTemperature;
  return merged;
}

/** Parses the models file's JSON text; errors name the file, the entry and the field. */
export function parseModelsFile(text: string): FileEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`OPENPAW_MODELS_FILE is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(json)) throw new Error("OPENPAW_MODELS_FILE must hold a JSON array of models");
  return json.map((raw, index) => {
    const parsed = FileEntrySchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const id =
      raw && typeof raw === "object" && typeof (raw as { id?: unknown }).id === "string" ? ` ("${(raw as { id: string }).id}")` : "";
    const field = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new Error(`OPENPAW_MODELS_FILE: entry ${index}${id}: ${field}${issue.message}`);
  });
}

/**
 * Builds the catalogue: the built-ins, then the file's entries (added, or merged over the built-in
 * of the same id). A model is `available` when its provider has credentials in this deployment.
 */
export function createModelCatalogue(options: {
  modelsFile: string | null;
  anthropicConfigured: boolean;
  openaiConfigured: boolean;
}): ModelCatalogue {
  const entries = new Map<string, CatalogueEntry>(BUILT_IN_MODELS.map((m) => [m.id, m]));
  if (options.modelsFile) {
    let text: string;
    try {
      text = readFileSync(options.modelsFile, "utf8");
    } catch (error) {
      throw new Error(`OPENPAW_MODELS_FILE cannot be read: ${(error as Error).message}`);
    }
    parseModelsFile(text).forEach((entry, index) => {
      entries.set(entry.id, entryFromFile(entry, index, entries.get(entry.id)));
    });
  }
  const configured: Record<ModelProvider, boolean> = { anthropic: options.anthropicConfigured, openai: options.openaiConfigured };
  return new ModelCatalogue([...entries.values()].map((m) => ({ ...m, available: configured[m.provider] })));
}

/** The USD cost of some usage at a model's prices, at full precision (rounding is for display). */
export function costOf(model: ModelInfo, usage: TokenUsage): number {
  const p = model.prices;
  return (
    (usage.inputTokens * p.input +
      usage.outputTokens * p.output +
      usage.cacheReadTokens * p.cacheRead +
      usage.cacheWriteTokens * p.cacheWrite) /
    1_000_000
  );
}
