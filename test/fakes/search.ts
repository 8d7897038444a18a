/**
 * Search provider doubles on 127.0.0.1, speaking each provider's HTTP API:
 * Brave (GET /res/v1/web/search, X-Subscription-Token), SearXNG (GET /search?format=json)
 * and Tavily (POST /search, JSON body, Bearer key). Each records the requests it received.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeSearchResult {
  title: string;
  url: string;
  snippet: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface FakeSearchServer {
  /** Base URL to configure: the full endpoint for Brave and Tavily, the instance root for SearXNG. */
  url: string;
  requests: RecordedRequest[];
  setResults(results: FakeSearchResult[]): void;
  /** The next requests fail with this status and body (until `failWith(null)`). */
  failWith(failure: { status: number; body: string } | null): void;
  close(): Promise<void>;
}

type Provider = "brave" | "searxng" | "tavily";

/** A Brave Search API double; answers 401 in Brave's error shape when the token differs from `apiKey`. */
export function startFakeBrave(apiKey: string): Promise<FakeSearchServer> {
  return start("brave", apiKey);
}

/** A SearXNG double; refuses (403, as SearXNG does) requests without format=json. */
export function startFakeSearxng(): Promise<FakeSearchServer> {
  return start("searxng", null);
}

/** A Tavily double; answers 401 in Tavily's error shape when the Bearer key differs from `apiKey`. */
export function startFakeTavily(apiKey: string): Promise<FakeSearchServer> {
  return start("tavily", apiKey);
}

async function start(provider: Provider, apiKey: string | null): Promise<FakeSearchServer> {
  let results: FakeSearchResult[] = [];
  let failure: { status: number; body: string } | null = null;
  const requests: RecordedRequest[] = [];
  const path = provider === "brave" ? "/res/v1/web/search" : "/search";

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://x");
    const body = Buffer.concat(chunks).toString("utf8");
    requests.push({ method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body });
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));

    if (url.pathname !== path) return json(404, { error: "not found" });
    if (failure) {
      res.writeHead(failure.status, { "content-type": "application/json" }).end(failure.body);
      return;
    }
    if (provider === "brave") {
      if (req.method !== "GET") return json(405, { error: "method not allowed" });
      if (req.headers["x-subscription-token"] !== apiKey) {
        return json(401, {
          type: "ErrorResponse",
          error: { id: "e1", status: 401, code: "SUBSCRIPTION_TOKEN_INVALID", detail: "The provided subscription token is invalid." },
          time: Date.now(),
        });
      }
      const count = Number(url.searchParams.get("count") ?? 20);
      return json(200, {
        type: "search",
        query: { original: url.searchParams.get("q") },
        web: {
          type: "search",
          results: results.slice(0, count).map((r) => ({
            type: "search_result",
            title: r.title,
            url: r.url,
            description: r.snippet,
            language: "en",
          })),
        },
      });
    }
    if (provider === "searxng") {
      if (url.searchParams.get("format") !== "json") {
        res.writeHead(403, { "content-type": "text/html" }).end("<h1>403 Forbidden</h1>");
        return;
      }
      return json(200, {
        query: url.searchParams.get("q"),
        number_of_results: results.length,
        results: results.map((r) => ({ title: r.title, url: r.url, content: r.snippet, engine: "fake", score: 1 })),
      });
    }
    if (req.method !== "POST") return json(405, { detail: { error: "Method Not Allowed" } });
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return json(401, { detail: { error: "Unauthorized: missing or invalid API key." } });
    }
    let parsed: { query?: string; max_results?: number };
    try {
      parsed = JSON.parse(body);
    } catch {
      return json(400, { detail: { error: "Invalid JSON body" } });
    }
    return json(200, {
      query: parsed.query,
      results: results
        .slice(0, parsed.max_results ?? 5)
        .map((r) => ({ title: r.title, url: r.url, content: r.snippet, score: 0.9, raw_content: null })),
      response_time: 0.01,
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: provider === "searxng" ? origin : `${origin}${path}`,
    requests,
    setResults(next) {
      results = next;
    },
    failWith(next) {
      failure = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
