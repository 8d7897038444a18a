/**
 * Keeps the catalogue in step with what the configured providers serve: the deployment's own
 * OpenAI-compatible server (Ollama, vLLM, llama.cpp at OPENAI_BASE_URL) is listed at start and
 * every minute, so the models pulled there appear by themselves; for an id nobody lists (a model
 * newer than the built-in catalogue), the providers are asked on first use.
 */
import type { ModelCatalogue, ModelInfo, ModelProvider as ProviderName } from "./catalogue";
import type { ModelProvider } from "./types";

export interface DiscoveryLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface ModelDiscoveryOptions {
  catalogue: ModelCatalogue;
  providers: Partial<Record<ProviderName, ModelProvider>>;
  logger: DiscoveryLogger;
  /** How often the local server's list is read again. Default 60 s. */
  refreshMs?: number;
  /** Deadline of one listing or lookup. Default 5 s: a local server answers in milliseconds or not at all. */
  timeoutMs?: number;
  /** How long "no provider serves this id" is remembered, so a typo does not ask upstream on every request. Default 60 s. */
  missTtlMs?: number;
}

export class ModelDiscovery {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly misses = new Map<string, number>();
  private readonly pending = new Map<string, Promise<ModelInfo | undefined>>();
  private lastFailure: string | null = null;

  constructor(private readonly options: ModelDiscoveryOptions) {
    options.catalogue.setLookup((id) => this.lookup(id));
  }

  /** Lists the local server once (waiting for it), then keeps refreshing in the background. */
  async start(): Promise<void> {
    if (!this.options.catalogue.localServer || !this.options.providers.openai?.listModels) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads the local server's `/v1/models` into the catalogue; a failure keeps the last list and is logged once per cause. */
  async refresh(): Promise<void> {
    const provider = this.options.providers.openai;
    const { catalogue, logger } = this.options;
    if (!provider?.listModels || !catalogue.localServer) return;
    try {
      const models = await provider.listModels(AbortSignal.timeout(this.options.timeoutMs ?? 5_000));
      catalogue.setLocalModels(models);
      if (this.lastFailure !== null || models.length === 0) {
        logger.info("local models listed", { server: catalogue.localServer, models: models.map((m) => m.id) });
      }
      if (models.length === 0) {
        logger.warn(`${catalogue.localServer} serves no models yet: pull one (e.g. "ollama pull llama3.2") and it appears within a minute.`);
      }
      this.lastFailure = null;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastFailure) {
        logger.warn(`cannot list the models of OPENAI_BASE_URL (${catalogue.localServer}): ${message}. Is the server running?`);
      }
      this.lastFailure = message;
    }
  }

  /** Asks the configured providers whether they serve `id` (the likely one first); adds it to the catalogue when one does. */
  private lookup(id: string): Promise<ModelInfo | undefined> {
    const missedAt = this.misses.get(id);
    if (missedAt !== undefined && Date.now() - missedAt < (this.options.missTtlMs ?? 60_000)) return Promise.resolve(undefined);
    let pending = this.pending.get(id);
    if (!pending) {
      pending = this.ask(id).finally(() => this.pending.delete(id));
      this.pending.set(id, pending);
    }
    return pending;
  }

  private async ask(id: string): Promise<ModelInfo | undefined> {
    const { providers, catalogue, logger } = this.options;
    // Anthropic serves only Claude models; an OpenAI-compatible server may serve anything.
    const order: ProviderName[] = /^claude/i.test(id) ? ["anthropic", "openai"] : ["openai"];
    for (const name of order) {
      const provider = providers[name];
      if (!provider?.retrieveModel) continue;
      try {
        const served = await provider.retrieveModel(id, AbortSignal.timeout(this.options.timeoutMs ?? 5_000));
        if (served) {
          const info = catalogue.addServed(name, { ...served, id });
          logger.info("model added from its provider", { model: id, provider: name, local: info.local });
          return info;
        }
      } catch (error) {
        logger.warn("model lookup failed", { model: id, provider: name, error: (error as Error).message });
      }
    }
    if (this.misses.size > 10_000) this.misses.clear();
    this.misses.set(id, Date.now());
    return undefined;
  }
}

/** OPENAI_BASE_URL when it names a server of the deployment's own (anything but OpenAI's API); null otherwise. */
export function localServerOf(openaiBaseUrl: string | null): string | null {
  if (!openaiBaseUrl) return null;
  try {
    return new URL(openaiBaseUrl).hostname === "api.openai.com" ? null : openaiBaseUrl.replace(/\/+$/, "");
  } catch {
    return null;
  }
}
