/**
 * A real MCP server for tests, built with the SDK's McpServer: Streamable HTTP (stateless, one
 * server per request) at `/mcp`, and the older HTTP+SSE transport at `/sse` + `/messages`.
 * Tools: `search` (schema with required and optional fields), `fail` (reports a tool error),
 * `hang` (never answers), `huge` (200 000 characters). Requests without the expected
 * Authorization header (when one is set) get 401.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface FakeMcpServer {
  /** Origin, e.g. http://127.0.0.1:1234; the Streamable HTTP endpoint is `${url}/mcp`, the SSE one `${url}/sse`. */
  url: string;
  port: number;
  /** Arguments of every tools/call, in order. */
  calls: Array<{ tool: string; args: Record<string, unknown> }>;
  /** Header sets of every HTTP request. */
  headers: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

export const HUGE_LENGTH = 200_000;

function buildServer(calls: FakeMcpServer["calls"]): McpServer {
  const server = new McpServer({ name: "fake-mcp", version: "1.0.0" });
  server.registerTool(
    "search",
    {
      description: "Search the fake catalogue.",
      inputSchema: { query: z.string().describe("What to look for"), limit: z.number().int().optional() },
    },
    async (args) => {
      calls.push({ tool: "search", args });
      return { content: [{ type: "text", text: `found 3 results for "${args.query}" (limit ${args.limit ?? "none"})` }] };
    },
  );
  server.registerTool("fail", { description: "Always fails.", inputSchema: { reason: z.string().optional() } }, async (args) => {
    calls.push({ tool: "fail", args });
    return { content: [{ type: "text", text: "upstream database is down" }], isError: true };
  });
  server.registerTool("hang", { description: "Never answers." }, async () => {
    calls.push({ tool: "hang", args: {} });
    return new Promise<never>(() => {});
  });
  server.registerTool("huge", { description: "Answers with a very long text." }, async () => {
    calls.push({ tool: "huge", args: {} });
    return { content: [{ type: "text", text: "x".repeat(HUGE_LENGTH) }] };
  });
  return server;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : undefined;
}

/** Starts the fake on 127.0.0.1; `authorization` is the header value it requires, if any. */
export async function startFakeMcpServer(options: { authorization?: string } = {}): Promise<FakeMcpServer> {
  const calls: FakeMcpServer["calls"] = [];
  const headers: FakeMcpServer["headers"] = [];
  const sseSessions = new Map<string, SSEServerTransport>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    headers.push({ ...req.headers });
    if (options.authorization && req.headers.authorization !== options.authorization) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "unauthorized" }));
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/mcp") {
      const body = req.method === "POST" ? await readBody(req) : undefined;
      const server = buildServer(calls);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        transport.close().catch(() => {});
        server.close().catch(() => {});
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
      return;
    }
    if (path === "/sse" && req.method === "GET") {
      const transport = new SSEServerTransport("/messages", res);
      sseSessions.set(transport.sessionId, transport);
      res.on("close", () => sseSessions.delete(transport.sessionId));
      await buildServer(calls).connect(transport);
      return;
    }
    if (path === "/messages" && req.method === "POST") {
      const sessionId = new URL(req.url ?? "/", "http://x").searchParams.get("sessionId") ?? "";
      const transport = sseSessions.get(sessionId);
      if (!transport) return void res.writeHead(404).end();
      await transport.handlePostMessage(req, res, await readBody(req));
      return;
    }
    res.writeHead(req.method === "POST" ? 405 : 404).end();
  };

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
