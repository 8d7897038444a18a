import { readFileSync } from "node:fs";
import { z } from "zod";
import type { ServedModel, TokenUsage } from "./types";

export type ModelProvider = "anthropic" | "openai";

/** USD per million tokens, by token kind. */
export interface TokenPrices {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/**
 * A model's prices. Some are tiered by the size of each request's prompt (Claude Haiku 5.5 above
 * 100,000 tokens, GPT-6 above 272,000): a call whose prompt (input + cache reads + cache writes)
 * exceeds `longContext.aboveInputTokens` pays the long-context rates on all of its tokens.
 */
export interface ModelPrices extends TokenPrices {
  longContext?: TokenPrices & { aboveInputTokens: number };
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
  /** False when the deployment has no credentials for the model's provider (or its server stopped serving it). */
  available: boolean;
  /** Served by the deployment's own OpenAI-compatible server (OPENAI_BASE_URL), so free unless OPENPAW_MODELS_FILE prices it. */
  local: boolean;
  /** False for a model a provider serves that neither the catalogue nor OPENPAW_MODELS_FILE prices: its runs are recorded at cost 0. */
  pricesKnown: boolean;
  /** What a person should know about the entry (where it comes from, why it costs what it costs); null for catalogue models. */
  note: string | null;
  /** Extra request fields the model needs on its provider's API (OpenAI-compatible servers only). */
  requestParams?: Record<string, unknown>;
}

type CatalogueEntry = Omit<ModelInfo, "available" | "local" | "pricesKnown" | "note"> & { recommended?: boolean };

interface AnthropicSpec {
  id: string;
  name: string;
  contextWindow: number;
  maxOutputTokens: number;
  prices: ModelPrices;
  recommended?: boolean;
}

const anthropic = (spec: AnthropicSpec): CatalogueEntry => ({ ...spec, provider: "anthropic", providerModel: spec.id });

/** Prices of Anthropic's table: input, output, 5-minute cache write, cache hit. */
const claude = (input: number, output: number, cacheWrite: number, cacheRead: number): ModelPrices => ({ input, output, cacheWrite, cacheRead });

const openai = (
  id: string,
  name: string,
  contextWindow: number,
  maxOutputTokens: number,
  prices: ModelPrices,
  extra: Pick<CatalogueEntry, "requestParams" | "recommended"> = {},
): CatalogueEntry => ({ id, provider: "openai", providerModel: id, name, contextWindow, maxOutputTokens, prices, ...extra });

/** GPT-6 prices, with OpenAI's long-context rule: above 272K input tokens, input and cache rates double and output is 1.5x. */
function gpt6(input: number, cacheRead: number, cacheWrite: number, output: number): ModelPrices {
  return {
    input,
    output,
    cacheRead,
    cacheWrite,
    longContext: { aboveInputTokens: 272_000, input: input * 2, output: output * 1.5, cacheRead: cacheRead * 2, cacheWrite: cacheWrite * 2 },
  };
}

/**
 * Built-in models with list prices in USD per million tokens, from Anthropic's models overview and
 * pricing pages and OpenAI's model pages as of 2026-12-01 (docs/models.md says how to refresh
 * them). Cache prices are listed per model: they are no longer a fixed multiple of the input
 * price (Opus 5.5 and Sonnet 5.5 read the cache at 0.05x, Fable 5.2 at 0.025x). Models Anthropic
 * has retired are left out. OPENPAW_MODELS_FILE adds entries or overrides these by id.
 */
export const BUILT_IN_MODELS: readonly CatalogueEntry[] = [
  // Anthropic's current lineup.
  anthropic({ id: "claude-sonnet-5-5", name: "Claude Sonnet 5.5", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(2, 10, 2.5, 0.1), recommended: true }),
  anthropic({ id: "claude-opus-5-5", name: "Claude Opus 5.5", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(4, 20, 5, 0.2) }),
  anthropic({
    id: "claude-haiku-5-5",
    name: "Claude Haiku 5.5",
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
    prices: { ...claude(0.1, 0.5, 0.125, 0.01), longContext: { aboveInputTokens: 100_000, input: 0.5, output: 2.5, cacheWrite: 0.625, cacheRead: 0.05 } },
  }),
  anthropic({ id: "claude-fable-5-2", name: "Claude Fable 5.2", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(8, 40, 10, 0.2) }),
  // Legacy models Anthropic still serves.
  anthropic({ id: "claude-fable-5-1", name: "Claude Fable 5.1", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(10, 50, 12.5, 0.25) }),
  anthropic({ id: "claude-fable-5", name: "Claude Fable 5", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(10, 50, 12.5, 1) }),
  anthropic({ id: "claude-opus-5", name: "Claude Opus 5", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(5, 25, 6.25, 0.5) }),
  anthropic({ id: "claude-sonnet-5", name: "Claude Sonnet 5", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(2, 10, 2.5, 0.2) }),
  anthropic({ id: "claude-opus-4-8", name: "Claude Opus 4.8", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(5, 25, 6.25, 0.5) }),
  anthropic({ id: "claude-opus-4-7", name: "Claude Opus 4.7", contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claude(5, 25, 6.25, 0.5) }),
  anthropic({ id: "claude-opus-4-6", name: "Claude Opus 4.6", contextWindow: 200_000, maxOutputTokens: 128_000, prices: claude(5, 25, 6.25, 0.5) }),
  anthropic({ id: "claude-sonnet-4-6", name: "Claude Sonnet 4.6", contextWindow: 200_000, maxOutputTokens: 64_000, prices: claude(3, 15, 3.75, 0.3) }),
  anthropic({ id: "claude-opus-4-5-20251101", name: "Claude Opus 4.5", contextWindow: 200_000, maxOutputTokens: 64_000, prices: claude(5, 25, 6.25, 0.5) }),
  anthropic({ id: "claude-sonnet-4-5-20250929", name: "Claude Sonnet 4.5", contextWindow: 200_000, maxOutputTokens: 64_000, prices: claude(3, 15, 3.75, 0.3) }),
  anthropic({ id: "claude-haiku-4-5-20251001", name: "Claude Haiku 4.5", contextWindow: 200_000, maxOutputTokens: 64_000, prices: claude(1, 5, 1.25, 0.1) }),
  // The model of the ClaudePaw seed's examples.
  anthropic({ id: "claude-sonnet-4-20250514", name: "Claude Sonnet 4", contextWindow: 200_000, maxOutputTokens: 64_000, prices: claude(3, 15, 3.75, 0.3) }),
  // OpenAI. GPT-6 calls functions through Chat Completions only with reasoning effort "none"
  // (GPT-6.1/6.2 Sol and Astra refuse that, so they are not offered until the Responses API is).
  openai("gpt-6-sol", "GPT-6 Sol", 1_050_000, 128_000, gpt6(2, 0.2, 2.5, 10), { requestParams: { reasoning_effort: "none" }, recommended: true }),
  openai("gpt-6-luna", "GPT-6 Luna", 1_050_000, 128_000, gpt6(0.1, 0.01, 0.125, 0.5), { requestParams: { reasoning_effort: "none" } }),
  // OpenAI bills no cache writes on models before GPT-5.6 (a cached prompt costs normal input once).
  openai("gpt-4.1", "GPT-4.1", 1_047_576, 32_768, { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 2 }),
  openai("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, 32_768, { input: 0.4, output: 1.6, cacheRead: 0.1, cacheWrite: 0.4 }),
  openai("gpt-4o", "GPT-4o", 128_000, 16_384, { input: 2.5, output: 10, cacheRead: 1.25, cacheWrite: 2.5 }),
  openai("gpt-4o-mini", "GPT-4o mini", 128_000, 16_384, { input: 0.15, output: 0.6, cacheRead: 0.075, cacheWrite: 0.15 }),
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

/** What the catalogue knows of a model before this deployment's providers are taken into account. */
interface Known extends CatalogueEntry {
  fromFile: boolean;
}

const DEFAULT_SERVED_LIMITS: Record<ModelProvider, { contextWindow: number; maxOutputTokens: number }> = {
  anthropic: { contextWindow: 200_000, maxOutputTokens: 32_000 },
  // Ollama's default context is small; servers that report theirs (vLLM, llama.cpp) override this.
  openai: { contextWindow: 32_768, maxOutputTokens: 4_096 },
};

const FREE: ModelPrices = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

/**
 * The models agents may use, keyed by our id, in a stable order (built-ins first, then the
 * models file's, then models the providers serve that neither lists). Models served by the
 * deployment's own OpenAI-compatible server appear and disappear with its `/v1/models`
 * (runtime/models/discovery keeps them current); a model a provider serves that the catalogue
 * does not know is added on first use with "price unknown".
 */
export class ModelCatalogue {
  private readonly known = new Map<string, Known>();
  private readonly served = new Map<string, ModelInfo>();
  /** Ids the local server listed at its last refresh. */
  private localIds = new Set<string>();
  private lookup: ((id: string) => Promise<ModelInfo | undefined>) | null = null;

  constructor(
    entries: readonly Known[],
    private readonly configured: Record<ModelProvider, boolean>,
    /** Where the deployment's own OpenAI-compatible server is (OPENAI_BASE_URL, when it is not OpenAI's); null without one. */
    readonly localServer: string | null = null,
  ) {
    for (const entry of entries) this.known.set(entry.id, entry);
  }

  get(id: string): ModelInfo | undefined {
    const known = this.known.get(id);
    if (known) return this.infoOf(known);
    return this.served.get(id);
  }

  /** `get`, or for an id the catalogue does not know, whether a configured provider serves it (then it is added). */
  async resolve(id: string): Promise<ModelInfo | undefined> {
    return this.get(id) ?? (await this.lookup?.(id)) ?? undefined;
  }

  list(): ModelInfo[] {
    return [...[...this.known.values()].map((k) => this.infoOf(k)), ...this.served.values()];
  }

  ids(): string[] {
    return this.list().map((m) => m.id);
  }

  /**
   * The model a new agent gets when it does not choose: the recommended one of a configured
   * provider (a mid-priced model, never the most expensive), else a local model, else anything
   * available, else the recommended Claude model.
   */
  defaultModel(): ModelInfo {
    const all = this.list();
    const recommended = (m: ModelInfo) => this.known.get(m.id)?.recommended === true;
    return (
      all.find((m) => m.available && recommended(m)) ??
      all.find((m) => m.available && m.local) ??
      all.find((m) => m.available) ??
      (all.find(recommended) as ModelInfo)
    );
  }

  /** Installs the provider lookup behind `resolve` (runtime/models/discovery). */
  setLookup(lookup: (id: string) => Promise<ModelInfo | undefined>): void {
    this.lookup = lookup;
  }

  /**
   * Records what the local server lists now: new ids become entries (free, marked local), known
   * ones are marked local, and ids it no longer lists stay (agents may name them) but unavailable.
   */
  setLocalModels(models: readonly ServedModel[]): void {
    this.localIds = new Set(models.map((m) => m.id));
    for (const model of models) {
      if (!this.known.has(model.id)) this.served.set(model.id, this.servedInfo("openai", model, true));
    }
    for (const [id, info] of this.served) {
      if (info.local) this.served.set(id, { ...info, available: this.localIds.has(id), note: this.localNote(info, this.localIds.has(id)) });
    }
  }

  /** Adds a model a provider said it serves (lookup on first use). */
  addServed(provider: ModelProvider, model: ServedModel): ModelInfo {
    const existing = this.get(model.id);
    if (existing) return existing;
    const local = provider === "openai" && this.localServer !== null;
    if (local) this.localIds.add(model.id);
    const info = this.servedInfo(provider, model, local);
    this.served.set(model.id, info);
    return info;
  }

  private servedInfo(provider: ModelProvider, model: ServedModel, local: boolean): ModelInfo {
    const limits = DEFAULT_SERVED_LIMITS[provider];
    const contextWindow = model.contextWindow ?? limits.contextWindow;
    const info: ModelInfo = {
      id: model.id,
      provider,
      providerModel: model.id,
      name: model.name ?? model.id,
      contextWindow,
      maxOutputTokens: Math.min(model.maxOutputTokens ?? limits.maxOutputTokens, contextWindow),
      prices: FREE,
      available: this.configured[provider],
      local,
      pricesKnown: local,
      note: null,
    };
    info.note = local
      ? this.localNote(info, true)
      : `Served by the ${provider === "anthropic" ? "Anthropic" : "OpenAI"} API but not in this deployment's catalogue: price unknown, so its runs are recorded at $0. Add it to OPENPAW_MODELS_FILE with its prices.`;
    return info;
  }

  private localNote(info: Pick<ModelInfo, "id">, served: boolean): string {
    return served
      ? `Served by your own server (OPENAI_BASE_URL ${this.localServer}); priced at $0 unless OPENPAW_MODELS_FILE gives it prices.`
      : `No longer listed by your server (OPENAI_BASE_URL ${this.localServer}); pull or load "${info.id}" there to use it again.`;
  }

  private infoOf(entry: Known): ModelInfo {
    const { fromFile, recommended, ...model } = entry;
    const onLocalServer = model.provider === "openai" && this.localServer !== null;
    const listed = onLocalServer && (this.localIds.has(model.id) || this.localIds.has(model.providerModel));
    // OpenAI's own models are not on an Ollama or vLLM server: with one, a built-in OpenAI entry
    // runs only when the server lists it. Entries of the models file are the operator's word.
    const available = this.configured[model.provider] && (!onLocalServer || fromFile || listed);
    const note = !listed ? null : fromFile ? `Served by your own server (OPENAI_BASE_URL ${this.localServer}), priced by OPENPAW_MODELS_FILE.` : this.localNote(model, true);
    return { ...model, available, local: listed, pricesKnown: true, note };
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
  // New prices replace the built-in's entirely (its long-context tier included): they are the operator's.
  const prices: ModelPrices = entry.prices
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
  if (base?.requestParams && merged.provider === base.provider) merged.requestParams = base.requestParams;
  if (base?.recommended) merged.recommended = true;
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
 * `localServer` is OPENAI_BASE_URL when it points at the deployment's own server (not OpenAI's).
 */
export function createModelCatalogue(options: {
  modelsFile: string | null;
  anthropicConfigured: boolean;
  openaiConfigured: boolean;
  localServer?: string | null;
}): ModelCatalogue {
  const entries = new Map<string, Known>(BUILT_IN_MODELS.map((m) => [m.id, { ...m, fromFile: false }]));
  if (options.modelsFile) {
    let text: string;
    try {
      text = readFileSync(options.modelsFile, "utf8");
    } catch (error) {
      throw new Error(`OPENPAW_MODELS_FILE cannot be read: ${(error as Error).message}`);
    }
    parseModelsFile(text).forEach((entry, index) => {
      entries.set(entry.id, { ...entryFromFile(entry, index, entries.get(entry.id)), fromFile: true });
    });
  }
  const configured: Record<ModelProvider, boolean> = { anthropic: options.anthropicConfigured, openai: options.openaiConfigured };
  return new ModelCatalogue([...entries.values()], configured, options.localServer ?? null);
}

/** The rates a call pays: the long-context tier when its prompt is above the tier's threshold. */
export function ratesOf(prices: ModelPrices, usage: TokenUsage): TokenPrices {
  const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  return prices.longContext && prompt > prices.longContext.aboveInputTokens ? prices.longContext : prices;
}

/**
 * The USD cost of one model call's usage at a model's prices, at full precision (rounding is for
 * display). Per call, because tiered prices depend on the size of each request's prompt.
 */
export function costOf(model: Pick<ModelInfo, "prices">, usage: TokenUsage): number {
  const p = ratesOf(model.prices, usage);
  return (
    (usage.inputTokens * p.input +
      usage.outputTokens * p.output +
      usage.cacheReadTokens * p.cacheRead +
      usage.cacheWriteTokens * p.cacheWrite) /
    1_000_000
  );
}
