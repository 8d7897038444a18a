import type { Kysely } from "kysely";
import type { Database, McpServersTable } from "../../db/schema";
import { decryptSecret } from "../../lib/secrets";
import { type McpConnector, type McpTarget, type McpToolInfo, mcpToolDefinitions } from "../../runtime/tools/mcp";
import type { ToolDefinition, ToolOutput } from "../../runtime/tools/types";
import { findMcpServerByName, listMcpServers } from "./repository";

export interface McpServiceOptions {
  secretKey: Uint8Array | null;
  connector: McpConnector;
  /** Deadline of one MCP call, in ms. */
  timeoutMs: number;
  /** How long a server's tool list is reused (default 60 s). */
  cacheTtlMs?: number;
  /** How long a failed listing is remembered, so a down server does not slow every run's start (default 15 s). */
  failureTtlMs?: number;
}

interface CacheEntry {
  expires: number;
  tools: McpToolInfo[] | null;
}

/** An org's MCP servers for runs and for the API: decrypted targets, cached tool lists, run tools. */
export class McpService {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: McpServiceOptions,
  ) {}

  /** Where and how to reach a stored server (headers decrypted, in memory only). */
  async target(row: McpServersTable): Promise<McpTarget> {
    let headers: Record<string, string> = {};
    if (row.headers_enc) {
      if (!this.options.secretKey) throw new Error("OPENPAW_SECRET_KEY is not set, so this server's stored headers cannot be read.");
      headers = JSON.parse(await decryptSecret(this.options.secretKey, row.headers_enc, row.id));
    }
    return { name: row.name, url: row.url, headers };
  }

  /** The server's tools, from the cache when fresh. Keyed by the row's version, so an edit takes effect at once on every replica. */
  async listTools(row: McpServersTable, options: { fresh?: boolean; signal?: AbortSignal } = {}): Promise<McpToolInfo[]> {
    const key = `${row.id}:${row.updated_at}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (!options.fresh && hit && hit.expires > now) {
      if (hit.tools) return hit.tools;
      throw new Error(`MCP server "${row.name}" could not be reached recently; retrying shortly.`);
    }
    this.prune(now);
    try {
      const tools = await this.options.connector.listTools(await this.target(row), options.signal);
      this.cache.set(key, { expires: now + (this.options.cacheTtlMs ?? 60_000), tools });
      return tools;
    } catch (error) {
      this.cache.set(key, { expires: now + (this.options.failureTtlMs ?? 15_000), tools: null });
      throw error;
    }
  }

  /** Forgets a server's cached tools (after an edit or delete). */
  invalidate(serverId: string): void {
    for (const key of this.cache.keys()) if (key.startsWith(`${serverId}:`)) this.cache.delete(key);
  }

  private prune(now: number): void {
    for (const [key, entry] of this.cache) if (entry.expires <= now) this.cache.delete(key);
  }

  /**
   * The tools of the org's enabled servers, namespaced `mcp__<server>__<tool>`. A server that
   * cannot be reached is left out of this run rather than failing it.
   */
  async toolsForRun(orgId: string, signal?: AbortSignal): Promise<ToolDefinition<any>[]> {
    const rows = await listMcpServers(this.db, orgId, true);
    const listed = await Promise.all(
      rows.map(async (row) => {
        try {
          return { target: await this.target(row), tools: await this.listTools(row, { signal }) };
        } catch {
          return null;
        }
      }),
    );
    const taken = new Set<string>();
    return listed.flatMap((entry) => (entry ? mcpToolDefinitions(entry.target, entry.tools, this.options.connector, this.options.timeoutMs, taken) : []));
  }

  /** Calls a tool of a server of the org by their plain names (the generic `mcp_call` tool). */
  async callByName(orgId: string, server: string, tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolOutput> {
    const row = await findMcpServerByName(this.db, orgId, server);
    if (!row?.enabled) return { content: `No enabled MCP server named "${server}" in this organization.`, isError: true };
    return this.options.connector.callTool(await this.target(row), tool, args, signal);
  }
}
