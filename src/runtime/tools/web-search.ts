/**
 * web_search: top results with snippets from the configured search provider.
 *
 * Brave Search is the default (the product docs name it); SearXNG (self-hosted) and Tavily are
 * the alternatives. Provider URLs come from the operator's configuration, not from the model, so
 * they are fetched with a plain fetch rather than the SSRF-guarded one (a SearXNG on the LAN is
 * a normal setup).
 */
import { z } from "zod";
import type { ToolDefinition, ToolOutput, UnavailableTool } from "./types";

export interface WebSearchToolOptions {
  braveApiKey?: string;
  /** Default https://api.search.brave.com/res/v1/web/search */
  braveSearchUrl?: string;
  /** Base URL of a SearXNG instance with the JSON format enabled. */
  searxngUrl?: string;
  tavilyApiKey?: string;
  /** Default https://api.tavily.com/search */
  tavilyUrl?: string;
  fetch?: typeof fetch;
  /** Wall-clock limit of one search (default 15000 ms). */
  timeoutMs?: number;
}

export interface WebSearchInput {
  query: string;
  count?: number;
}

/** One normalised result, whatever the provider. */
interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

const DEFAULT_BRAVE_URL = "https://api.search.brave.com/res/v1/web/search";
const DEFAULT_TAVILY_URL = "https://api.tavily.com/search";
const DEFAULT_COUNT = 5;
const MAX_COUNT = 20;

const inputSchema = z.object({
  query: z.string().trim().min(1).max(400).describe("What to search the web for."),
  count: z
    .number()
    .int()
    .min(1)
    .max(MAX_COUNT)
    .optional()
    .describe(`How many results to return (default ${DEFAULT_COUNT}, at most ${MAX_COUNT}).`),
});

/** Thrown inside a provider call; its message is what the model sees. */
class ProviderError extends Error {}

type Provider = {
  label: string;
  search(query: string, count: number, signal: AbortSignal): Promise<SearchResult[]>;
};

/**
 * Builds the web_search tool (free tier) over the first configured provider: Brave, then
 * SearXNG, then Tavily. Without any, the tool is unavailable and says what to set.
 */
export function createWebSearchTool(
  options: WebSearchToolOptions,
): { tool: ToolDefinition<WebSearchInput> } | { unavailable: UnavailableTool } {
  const doFetch = options.fetch ?? globalThis.fetch;
  let provider: Provider;
  if (options.braveApiKey) provider = brave(doFetch, options.braveApiKey, options.braveSearchUrl ?? DEFAULT_BRAVE_URL);
  else if (options.searxngUrl) provider = searxng(doFetch, options.searxngUrl);
  else if (options.tavilyApiKey) provider = tavily(doFetch, options.tavilyApiKey, options.tavilyUrl ?? DEFAULT_TAVILY_URL);
  else {
    return {
      unavailable: {
        name: "web_search",
        reason: "No search provider is configured: set BRAVE_API_KEY, SEARXNG_URL or TAVILY_API_KEY",
      },
    };
  }
  const timeoutMs = options.timeoutMs ?? 15_000;

  const tool: ToolDefinition<WebSearchInput> = {
    name: "web_search",
    description:
      "Search the web. Returns the top results, numbered, each with its title, URL and a short snippet. " +
      "Use read_url on a result to read the whole page.",
    tier: "free",
    input: inputSchema,
    timeoutMs,
    async execute(input, context): Promise<ToolOutput> {
      const query = input.query.trim();
      const count = Math.min(Math.max(input.count ?? DEFAULT_COUNT, 1), MAX_COUNT);
      const signal = AbortSignal.any([context.signal, AbortSignal.timeout(timeoutMs)]);
      let results: SearchResult[];
      try {
        results = (await provider.search(query, count, signal)).slice(0, count);
      } catch (error) {
        return { content: errorMessage(provider.label, error, context.signal, timeoutMs), isError: true };
      }
      if (results.length === 0) return { content: `No results for "${query}".` };
      return { content: formatResults(results) };
    },
  };
  return { tool };
}

function errorMessage(label: string, error: unknown, runSignal: AbortSignal, timeoutMs: number): string {
  if (error instanceof ProviderError) return `${label} search failed: ${error.message}`;
  if (runSignal.aborted) return `${label} search was cancelled`;
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `${label} search failed: no answer within ${timeoutMs} ms`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return `${label} search failed: could not reach the provider (${detail})`;
}

function formatResults(results: SearchResult[]): string {
  return results
    .map((r, i) => {
      const lines = [`${i + 1}. ${r.title || r.url}`, `   ${r.url}`];
      if (r.snippet) lines.push(`   ${r.snippet}`);
      return lines.join("\n");
    })
    .join("\n\n");
}

/** Snippets come with highlighting markup (Brave's <strong>) and entities; the model wants text. */
function cleanText(value: unknown): string {
  if (typeof value !== "string") return "";
  return value
    .replace(/<[^>]*>/g, "")
    .replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39|nbsp);/gi, (_m, entity: string) => {
      const e = entity.toLowerCase();
      if (e.startsWith("#x")) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
      if (e.startsWith("#")) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
      return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " }[e] ?? "";
    })
    .replace(/\s+/g, " ")
    .trim();
}

const KEY_HINTS: Record<number, string> = { 401: " (check the API key)", 403: " (check the API key)" };
const SEARXNG_HINTS: Record<number, string> = { 403: " (is the json format enabled in the instance's settings?)" };

/** Reads a JSON body, turning HTTP failures into a ProviderError that quotes the provider. */
async function readJson(response: Response, hints: Record<number, string>): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) {
    let detail = text.replace(/\s+/g, " ").trim();
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const err = parsed.error as Record<string, unknown> | string | undefined;
      const message = (typeof err === "object" && err ? (err.detail ?? err.message) : err) ?? parsed.detail ?? parsed.message;
      if (typeof message === "string") detail = message;
      else if (message && typeof message === "object" && typeof (message as { error?: unknown }).error === "string") {
        detail = (message as { error: string }).error;
      }
    } catch {
      // not JSON: quote the text as is
    }
    const hint = hints[response.status] ?? "";
    const shown = detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
    throw new ProviderError(`HTTP ${response.status}${hint}${shown ? `: ${shown}` : ""}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderError("the provider answered with something that is not JSON");
  }
}

function asArray(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => !!v && typeof v === "object") : [];
}

function brave(doFetch: typeof fetch, apiKey: string, endpoint: string): Provider {
  return {
    label: "Brave",
    async search(query, count, signal) {
      const url = new URL(endpoint);
      url.searchParams.set("q", query);
      url.searchParams.set("count", String(count));
      const response = await doFetch(url, {
        headers: { accept: "application/json", "x-subscription-token": apiKey },
        signal,
      });
      const body = (await readJson(response, KEY_HINTS)) as { web?: { results?: unknown } };
      return asArray(body.web?.results).map((r) => ({
        title: cleanText(r.title),
        url: String(r.url ?? ""),
        snippet: cleanText(r.description),
      }));
    },
  };
}

function searxng(doFetch: typeof fetch, baseUrl: string): Provider {
  return {
    label: "SearXNG",
    async search(query, _count, signal) {
      // SearXNG has no count parameter; it returns a page of results and we keep the first ones.
      const url = new URL("search", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
      url.searchParams.set("q", query);
      url.searchParams.set("format", "json");
      const response = await doFetch(url, { headers: { accept: "application/json" }, signal });
      const body = (await readJson(response, SEARXNG_HINTS)) as { results?: unknown };
      return asArray(body.results).map((r) => ({
        title: cleanText(r.title),
        url: String(r.url ?? ""),
        snippet: cleanText(r.content),
      }));
    },
  };
}

function tavily(doFetch: typeof fetch, apiKey: string, endpoint: string): Provider {
  return {
    label: "Tavily",
    async search(query, count, signal) {
      const response = await doFetch(endpoint, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ query, max_results: count, search_depth: "basic" }),
        signal,
      });
      const body = (await readJson(response, KEY_HINTS)) as { results?: unknown };
      return asArray(body.results).map((r) => ({
        title: cleanText(r.title),
        url: String(r.url ?? ""),
        snippet: cleanText(r.content),
      }));
    },
  };
}
