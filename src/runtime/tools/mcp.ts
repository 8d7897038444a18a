/**
 * MCP servers as tools. Each of an org's MCP servers contributes its tools to a run under the
 * name `mcp__<server>__<tool>`, so the model calls them like built-ins.
 *
 * Every operation opens its own client (Streamable HTTP, falling back to the older HTTP+SSE
 * transport for servers that only speak that) over the guarded fetch, does its one thing and
 * closes: no session outlives a call, so a server restart or a replica switch costs nothing.
 */
import { Client } from "@modelcontextprotocol/sdk/client";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { withinJsonBounds } from "../../lib/json-bounds";
import type { ToolDefinition, ToolOutput } from "./types";

/**
 * What an MCP server sends is outside JSON: a schema or structured result nested thousands of
 * levels deep would overflow the stack where it is next serialised (the provider request, the
 * test endpoint's response), so both are bounded first.
 */
const SCHEMA_LIMITS = { maxDepth: 32, maxBytes: 64 * 1024 };
const STRUCTURED_LIMITS = { maxDepth: 64, maxBytes: 1024 * 1024 };

/** One MCP server as the runtime needs it: where it is and the (decrypted) headers it wants. */
export interface McpTarget {
  name: string;
  url: string;
  headers: Record<string, string>;
}

/** A tool as the server lists it; `inputSchema` already sanitised for model providers. */
export interface McpToolInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface McpConnectorOptions {
  /** The guarded fetch: MCP servers follow the same outbound rules as read_url. */
  fetch: typeof fetch;
  /** Deadline of one operation (connect + list, or connect + call), in ms. */
  timeoutMs: number;
  /** Longest text a tool result may hand back; the rest is cut with a note. */
  maxOutputChars: number;
}

export interface McpConnector {
  listTools(target: McpTarget, signal?: AbortSignal): Promise<McpToolInfo[]>;
  callTool(target: McpTarget, tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolOutput>;
}

const MAX_TOOL_PAGES = 10;
const MAX_NAME = 64;

/** A readable reason for any failure of the SDK or the transport, naming the server but never its headers. */
export function describeMcpError(server: string, error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return `MCP server "${server}" failed: ${message.slice(0, 500)}`;
}

/** Builds the MCP client side. */
export function createMcpConnector(options: McpConnectorOptions): McpConnector {
  const transports = (target: McpTarget): Array<() => Transport> => {
    const url = new URL(target.url);
    const requestInit = { headers: target.headers };
    return [
      () => new StreamableHTTPClientTransport(url, { fetch: options.fetch, requestInit }),
      () => new SSEClientTransport(url, { fetch: options.fetch, requestInit }),
    ];
  };

  /** Connects, runs `fn`, closes. Falls back to HTTP+SSE when the server refuses Streamable HTTP with a 4xx. */
  const withClient = async <T>(target: McpTarget, signal: AbortSignal | undefined, fn: (client: Client, signal: AbortSignal) => Promise<T>): Promise<T> => {
    const deadline = AbortSignal.timeout(options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const requestOptions = { signal: combined, timeout: options.timeoutMs };
    let lastError: unknown;
    for (const make of transports(target)) {
      const client = new Client({ name: "openpaw", version: "0.1.0" });
      try {
        await client.connect(make(), requestOptions);
      } catch (error) {
        await client.close().catch(() => {});
        lastError = error;
        // Old servers answer a Streamable HTTP POST with 404 or 405; anything else is a real failure.
        const status = error instanceof StreamableHTTPError ? (error.code ?? 0) : 0;
        if (combined.aborted || status < 400 || status >= 500) break;
        continue;
      }
      try {
        return await fn(client, combined);
      } catch (error) {
        // The SDK reports its own deadline as "MCP error -32001: TimeoutError ..."; say it plainly.
        if (deadline.aborted || (error instanceof McpError && error.code === ErrorCode.RequestTimeout)) throw new Error(`timed out after ${options.timeoutMs / 1000} s`);
        throw error;
      } finally {
        await client.close().catch(() => {});
      }
    }
    if (deadline.aborted) throw new Error(`timed out after ${options.timeoutMs / 1000} s`);
    throw lastError;
  };

  return {
    async listTools(target, signal) {
      return withClient(target, signal, async (client, combined) => {
        const out: McpToolInfo[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < MAX_TOOL_PAGES; page++) {
          const result = await client.listTools(cursor ? { cursor } : undefined, { signal: combined, timeout: options.timeoutMs });
          for (const tool of result.tools) {
            out.push({ name: tool.name, description: tool.description ?? tool.title ?? "", inputSchema: sanitizeInputSchema(tool.inputSchema) });
          }
          cursor = result.nextCursor;
          if (!cursor) break;
        }
        return out;
      });
    },

    async callTool(target, tool, args, signal) {
      try {
        const result = await withClient(target, signal, (client, combined) =>
          client.callTool({ name: tool, arguments: args }, undefined, { signal: combined, timeout: options.timeoutMs }),
        );
        return { content: cut(resultText(result), options.maxOutputChars), isError: result.isError === true };
      } catch (error) {
        return { content: describeMcpError(target.name, error), isError: true };
      }
    },
  };
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}\n[MCP result cut: ${text.length - max} of ${text.length} characters omitted]` : text;
}

/** Renders a CallToolResult as text: text parts as they are, other kinds described, structured content as JSON. */
export function resultText(result: Record<string, unknown>): string {
  const parts: string[] = [];
  const content = Array.isArray(result.content) ? (result.content as Array<Record<string, any>>) : [];
  for (const item of content) {
    if (item.type === "text") parts.push(String(item.text ?? ""));
    else if (item.type === "image" || item.type === "audio") parts.push(`[${item.type} ${item.mimeType ?? ""}, not shown]`);
    else if (item.type === "resource") parts.push(typeof item.resource?.text === "string" ? item.resource.text : `[resource ${item.resource?.uri ?? ""}]`);
    else if (item.type === "resource_link") parts.push(`[resource link ${item.name ?? ""} ${item.uri ?? ""}]`);
  }
  for (const structured of [result.structuredContent, result.toolResult]) {
    if (parts.length > 0 || structured === undefined) continue;
    parts.push(withinJsonBounds(structured, STRUCTURED_LIMITS) ? JSON.stringify(structured) : "[structured result too deeply nested or too large to show]");
  }
  return parts.join("\n");
}

/**
 * A tool's JSON Schema as every provider accepts it: an object schema (anything else, or one
 * past the size and depth bounds, becomes an empty object schema), without the keys that name or
 * version a schema document.
 */
export function sanitizeInputSchema(schema: unknown): Record<string, unknown> {
  if (!schema || typeof schema !== "object" || Array.isArray(schema) || !withinJsonBounds(schema, SCHEMA_LIMITS)) {
    return { type: "object", properties: {} };
  }
  const { $schema: _s, $id: _i, id: _id, ...rest } = schema as Record<string, unknown>;
  const properties = rest.properties && typeof rest.properties === "object" && !Array.isArray(rest.properties) ? rest.properties : {};
  const out: Record<string, unknown> = { ...rest, type: "object", properties };
  if (!Array.isArray(rest.required) || !rest.required.every((r) => typeof r === "string")) delete out.required;
  return out;
}

function shortHash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36).padStart(6, "0").slice(-6);
}

/**
 * `mcp__<server>__<tool>` within providers' rules (≤ 64 characters of [a-zA-Z0-9_-]). Other
 * characters become `_`; a name too long, or already `taken` by another tool, is cut and ends in
 * a hash of the original so it stays unique and stable.
 */
export function namespacedToolName(server: string, tool: string, taken: ReadonlySet<string>): string {
  const plain = `mcp__${server.replace(/[^a-zA-Z0-9_-]/g, "_")}__${tool.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  if (plain.length <= MAX_NAME && !taken.has(plain)) return plain;
  const suffix = `_${shortHash(tool)}`;
  return plain.slice(0, MAX_NAME - suffix.length) + suffix;
}

/** The server's tools as ordinary tool definitions of a run; each call goes to that server. */
export function mcpToolDefinitions(
  target: McpTarget,
  tools: readonly McpToolInfo[],
  connector: McpConnector,
  timeoutMs: number,
  taken: Set<string> = new Set(),
): ToolDefinition<Record<string, unknown>>[] {
  return tools.map((tool) => {
    const name = namespacedToolName(target.name, tool.name, taken);
    taken.add(name);
    return {
      name,
      description: `[MCP server "${target.name}", tool "${tool.name}"] ${tool.description}`.slice(0, 1024),
      tier: "agency",
      // Arguments pass through as an object; the server validates them against its own schema,
      // and the schema reaches the model through zod's metadata (merged into the JSON Schema).
      input: z.looseObject({}).meta(tool.inputSchema) as unknown as z.ZodType<Record<string, unknown>>,
      // A little beyond the connector's own deadline, so its clearer message wins.
      timeoutMs: timeoutMs + 1_000,
      execute: (input, context) => connector.callTool(target, tool.name, input, context.signal),
    };
  });
}

const mcpCallInput = z.object({
  server: z.string().min(1).max(64).describe("The MCP server's name."),
  tool: z.string().min(1).max(200).describe("The tool's name on that server."),
  arguments: z.record(z.string(), z.unknown()).default({}).describe("The tool's arguments."),
});

/**
 * The `mcp_call` tool an agent enables to use the org's MCP servers. Runs replace it with the
 * servers' own tools (`mcp__<server>__<tool>`, see chat/run); it stays callable by plain names.
 */
export function createMcpCallTool(
  call: (orgId: string, server: string, tool: string, args: Record<string, unknown>, signal: AbortSignal) => Promise<ToolOutput>,
  timeoutMs: number,
): ToolDefinition<z.infer<typeof mcpCallInput>> {
  return {
    name: "mcp_call",
    description: "Call a tool of one of the organization's MCP servers by server and tool name.",
    tier: "agency",
    input: mcpCallInput,
    timeoutMs: timeoutMs + 1_000,
    execute: (input, context) => call(context.orgId, input.server, input.tool, input.arguments, context.signal),
  };
}
