import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FakeSearchResult,
  type FakeSearchServer,
  startFakeBrave,
  startFakeSearxng,
  startFakeTavily,
} from "../../../test/fakes/search";
import { startFakeWeb, type FakeWeb, hang } from "../../../test/fakes/web";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";
import { createWebSearchTool, type WebSearchInput } from "./web-search";

const RESULTS: FakeSearchResult[] = [
  {
    title: "Otter - Wikipedia",
    url: "https://en.wikipedia.org/wiki/Otter",
    snippet: "Otters are <strong>carnivorous</strong> mammals &amp; swimmers.",
  },
  { title: "River otter facts", url: "https://example.org/otters", snippet: "Everything about river otters." },
  { title: "Sea otters", url: "https://example.net/sea", snippet: "They hold hands while sleeping." },
];

let brave: FakeSearchServer;
let searxng: FakeSearchServer;
let tavily: FakeSearchServer;
let silent: FakeWeb;

beforeAll(async () => {
  [brave, searxng, tavily, silent] = await Promise.all([
    startFakeBrave("brave-key"),
    startFakeSearxng(),
    startFakeTavily("tvly-key"),
    startFakeWeb(),
  ]);
  for (const server of [brave, searxng, tavily]) server.setResults(RESULTS);
  silent.route("/res/v1/web/search", hang());
});

afterAll(async () => {
  await Promise.all([brave.close(), searxng.close(), tavily.close(), silent.close()]);
});

function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { orgId: "org_1", agentId: "ag_1", runId: "run_1", conversationId: "conv_1", signal };
}

function toolOf(result: ReturnType<typeof createWebSearchTool>): ToolDefinition<WebSearchInput> {
  if (!("tool" in result)) throw new Error(`unavailable: ${result.unavailable.reason}`);
  return result.tool;
}

async function search(tool: ToolDefinition<WebSearchInput>, input: unknown, signal?: AbortSignal): Promise<ToolOutput> {
  const out = await tool.execute(tool.input.parse(input), context(signal));
  return typeof out === "string" ? { content: out } : out;
}

const FORMATTED_TWO = [
  "1. Otter - Wikipedia",
  "   https://en.wikipedia.org/wiki/Otter",
  "   Otters are carnivorous mammals & swimmers.",
  "",
  "2. River otter facts",
  "   https://example.org/otters",
  "   Everything about river otters.",
].join("\n");

describe("web_search with Brave", () => {
  it("sends the key, query and count, and numbers the results", async () => {
    const tool = toolOf(createWebSearchTool({ braveApiKey: "brave-key", braveSearchUrl: brave.url, searxngUrl: searxng.url }));
    const before = searxng.requests.length;
    const out = await search(tool, { query: "  river otters ", count: 2 });
    expect(out).toEqual({ content: FORMATTED_TWO });
    const request = brave.requests.at(-1);
    expect(request?.method).toBe("GET");
    expect(request?.path).toBe("/res/v1/web/search");
    expect(request?.headers["x-subscription-token"]).toBe("brave-key");
    expect(request?.headers.accept).toBe("application/json");
    expect(request?.query.get("q")).toBe("river otters");
    expect(request?.query.get("count")).toBe("2");
    // Brave wins when several providers are configured.
    expect(searxng.requests.length).toBe(before);
  });

  it("asks for five results by default", async () => {
    const tool = toolOf(createWebSearchTool({ braveApiKey: "brave-key", braveSearchUrl: brave.url }));
    const out = await search(tool, { query: "otters" });
    expect(brave.requests.at(-1)?.query.get("count")).toBe("5");
    expect(out.content.split("\n\n")).toHaveLength(3);
  });

  it("reports a rejected key as an error result quoting Brave", async () => {
    const tool = toolOf(createWebSearchTool({ braveApiKey: "wrong", braveSearchUrl: brave.url }));
    expect(await search(tool, { query: "otters" })).toEqual({
      content: "Brave search failed: HTTP 401 (check the API key): The provided subscription token is invalid.",
      isError: true,
    });
  });

  it("reports rate limits and non-JSON failures", async () => {
    const tool = toolOf(createWebSearchTool({ braveApiKey: "brave-key", braveSearchUrl: brave.url }));
    brave.failWith({
      status: 429,
      body: '{"type":"ErrorResponse","error":{"code":"RATE_LIMITED","detail":"Request rate limit exceeded."}}',
    });
    try {
      expect(await search(tool, { query: "otters" })).toEqual({
        content: "Brave search failed: HTTP 429: Request rate limit exceeded.",
        isError: true,
      });
      brave.failWith({ status: 502, body: "<html>Bad Gateway</html>" });
      expect((await search(tool, { query: "otters" })).content).toBe("Brave search failed: HTTP 502: <html>Bad Gateway</html>");
    } finally {
      brave.failWith(null);
    }
  });

  it("says so when there are no results", async () => {
    brave.setResults([]);
    try {
      const tool = toolOf(createWebSearchTool({ braveApiKey: "brave-key", braveSearchUrl: brave.url }));
      expect(await search(tool, { query: "zzqx" })).toEqual({ content: 'No results for "zzqx".' });
    } finally {
      brave.setResults(RESULTS);
    }
  });

  it("gives up on a provider that never answers, and on an unreachable one", async () => {
    const slow = toolOf(createWebSearchTool({ braveApiKey: "k", braveSearchUrl: `${silent.origin}/res/v1/web/search`, timeoutMs: 300 }));
    expect(await search(slow, { query: "otters" })).toEqual({
      content: "Brave search failed: no answer within 300 ms",
      isError: true,
    });
    const closed = await startFakeWeb();
    const deadUrl = `${closed.origin}/res/v1/web/search`;
    await closed.close();
    const dead = toolOf(createWebSearchTool({ braveApiKey: "k", braveSearchUrl: deadUrl }));
    expect(await search(dead, { query: "otters" })).toEqual({
      content: "Brave search failed: could not reach the provider (ECONNREFUSED)",
      isError: true,
    });
  });

  it("stops when the run is cancelled", async () => {
    const tool = toolOf(createWebSearchTool({ braveApiKey: "k", braveSearchUrl: `${silent.origin}/res/v1/web/search` }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await search(tool, { query: "otters" }, controller.signal)).toEqual({
      content: "Brave search was cancelled",
      isError: true,
    });
  });
});

describe("web_search with SearXNG", () => {
  it("asks /search?format=json and keeps the first results", async () => {
    const tool = toolOf(createWebSearchTool({ searxngUrl: searxng.url, tavilyApiKey: "tvly-key", tavilyUrl: tavily.url }));
    const out = await search(tool, { query: "river otters", count: 2 });
    expect(out).toEqual({ content: FORMATTED_TWO });
    const request = searxng.requests.at(-1);
    expect(request?.path).toBe("/search");
    expect(request?.query.get("q")).toBe("river otters");
    expect(request?.query.get("format")).toBe("json");
    expect(tavily.requests).toHaveLength(0);
  });

  it("reports an instance without the JSON format", async () => {
    searxng.failWith({ status: 403, body: "<h1>403 Forbidden</h1>" });
    try {
      const tool = toolOf(createWebSearchTool({ searxngUrl: `${searxng.url}/` }));
      expect(await search(tool, { query: "otters" })).toEqual({
        content: "SearXNG search failed: HTTP 403 (is the json format enabled in the instance's settings?): <h1>403 Forbidden</h1>",
        isError: true,
      });
    } finally {
      searxng.failWith(null);
    }
  });
});

describe("web_search with Tavily", () => {
  it("POSTs the query as JSON with a Bearer key", async () => {
    const tool = toolOf(createWebSearchTool({ tavilyApiKey: "tvly-key", tavilyUrl: tavily.url }));
    const out = await search(tool, { query: "river otters", count: 2 });
    expect(out).toEqual({ content: FORMATTED_TWO });
    const request = tavily.requests.at(-1);
    expect(request?.method).toBe("POST");
    expect(request?.headers.authorization).toBe("Bearer tvly-key");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request?.body ?? "{}")).toMatchObject({ query: "river otters", max_results: 2 });
  });

  it("reports a rejected key", async () => {
    const tool = toolOf(createWebSearchTool({ tavilyApiKey: "nope", tavilyUrl: tavily.url }));
    expect(await search(tool, { query: "otters" })).toEqual({
      content: "Tavily search failed: HTTP 401 (check the API key): Unauthorized: missing or invalid API key.",
      isError: true,
    });
  });
});

describe("web_search configuration", () => {
  it("is unavailable without a provider, and says what to set", () => {
    expect(createWebSearchTool({})).toEqual({
      unavailable: {
        name: "web_search",
        reason: "No search provider is configured: set BRAVE_API_KEY, SEARXNG_URL or TAVILY_API_KEY",
      },
    });
    expect("unavailable" in createWebSearchTool({ braveApiKey: "" })).toBe(true);
  });

  it("is a free tool named web_search with a validated input", () => {
    const tool = toolOf(createWebSearchTool({ braveApiKey: "k" }));
    expect(tool.name).toBe("web_search");
    expect(tool.tier).toBe("free");
    expect(tool.input.safeParse({ query: "" }).success).toBe(false);
    expect(tool.input.safeParse({ query: "x", count: 50 }).success).toBe(false);
    expect(tool.input.safeParse({ query: "x", count: 3 }).success).toBe(true);
  });
});
