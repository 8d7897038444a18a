import { existsSync } from "node:fs";
import type { Kysely } from "kysely";
import type { Config } from "./config";
import type { Database } from "./db/schema";
import { ChannelService } from "./features/channels/service";
import { McpService } from "./features/mcp/service";
import { createMemoryStore } from "./features/memory/store";
import { createBubblewrapBackend, sandboxOwnerFor } from "./runtime/sandbox/bubblewrap";
import { createWorkspaceFiles } from "./runtime/sandbox/files";
import { createSandboxPool } from "./runtime/sandbox/pool";
import { createSandboxTools } from "./runtime/sandbox/tools";
import type { WorkspaceFiles } from "./runtime/sandbox/types";
import { createBrowserTool } from "./runtime/tools/browser";
import { createGuardedFetcher } from "./runtime/tools/net/guarded-fetch";
import { createMcpCallTool, createMcpConnector } from "./runtime/tools/mcp";
import { createMemoryTools } from "./runtime/tools/memory";
import { createChannelSender, createMessageTool } from "./runtime/tools/message";
import { createReadUrlTool } from "./runtime/tools/read-url";
import { ToolRegistry } from "./runtime/tools/registry";
import { createSubagentTool } from "./runtime/tools/subagent";
import { createWebSearchTool } from "./runtime/tools/web-search";

export interface ToolRegistryDeps {
  /** The org's workspace quota in bytes (its plan's `workspaceBytes`). */
  quotaBytes(orgId: string): number | Promise<number>;
}

/**
 * The deployment's tools, built once from configuration. Tools whose service is not configured
 * are registered as unavailable with the reason, which agents report as `unavailableTools`.
 * Also returns the org workspaces, which the files API shares with the sandbox tools.
 */
export async function createToolRegistry(
  config: Config,
  db: Kysely<Database>,
  deps: ToolRegistryDeps,
): Promise<{ registry: ToolRegistry; files: WorkspaceFiles; mcp: McpService; channels: ChannelService; close(): Promise<void> }> {
  const registry = new ToolRegistry();
  const fetcher = createGuardedFetcher({ allowlist: config.fetchAllowlist });
  registry.add(createReadUrlTool({ fetcher, maxOutputChars: config.limits.toolOutputChars * 2 }));

  const search = createWebSearchTool({
    braveApiKey: config.search.braveApiKey ?? undefined,
    braveSearchUrl: config.search.braveSearchUrl ?? undefined,
    searxngUrl: config.search.searxngUrl ?? undefined,
    tavilyApiKey: config.search.tavilyApiKey ?? undefined,
  });
  if ("tool" in search) registry.add(search.tool);
  else registry.markUnavailable(search.unavailable);

  // message: channels hold encrypted credentials; posts follow read_url's outbound rules.
  const channels = new ChannelService(db, config.secretKey, createChannelSender({ fetcher }));
  registry.add(createMessageTool({ sender: channels.sender, resolve: (orgId, name) => channels.resolve(orgId, name) }));

  // Agency tools. Runs expand mcp_call into the org's MCP tools and bind subagent to themselves (chat/run).
  // The MCP fetcher's deadline covers a whole operation, whose own deadline is the shorter one.
  const mcpFetcher = createGuardedFetcher({ allowlist: config.fetchAllowlist, timeoutMs: config.mcp.timeoutMs + 5_000 });
  const connector = createMcpConnector({ fetch: mcpFetcher.fetch, timeoutMs: config.mcp.timeoutMs, maxOutputChars: config.limits.toolOutputChars * 2 });
  const mcp = new McpService(db, { secretKey: config.secretKey, connector, timeoutMs: config.mcp.timeoutMs });
  registry.add(createMcpCallTool((orgId, server, tool, args, signal) => mcp.callByName(orgId, server, tool, args, signal), config.mcp.timeoutMs));
  registry.add(createSubagentTool());

  const memory = createMemoryTools((context) => createMemoryStore(db, context.orgId, context.agentId));
  registry.add(memory.memoryRead).add(memory.memoryWrite);

  // Pro tools. When the gateway runs as root, sandboxes run as nobody (RLIMIT_NPROC never applies to uid 0).
  const owner = sandboxOwnerFor(process.getuid?.() ?? -1);
  const files = createWorkspaceFiles({
    dataDir: config.dataDir,
    quotaBytes: deps.quotaBytes,
    maxFileBytes: config.limits.maxUploadBytes,
    owner,
  });
  const backend = createBubblewrapBackend({ dataDir: config.dataDir, workspaces: files, runAs: owner });
  const pool = createSandboxPool({ backend, maxLive: config.sandbox.maxLive, idleMs: config.sandbox.idleMs });
  const browser = createBrowserTool({ files, dataDir: config.dataDir, executablePath: config.sandbox.chromiumPath, allowlist: config.fetchAllowlist, runAs: owner });
  registry.onRunEnd((runId) => browser.closeRun(runId));

  // Launching Chromium takes seconds, so startup only checks that it is installed; a browser
  // that then fails to start is reported to the model as the tool's error.
  if (existsSync(config.sandbox.chromiumPath)) registry.add(browser.tool);
  else registry.markUnavailable({ name: "browser", reason: `Chromium is not installed (${config.sandbox.chromiumPath} is missing)` });
  const sandbox = await createSandboxTools({ backend, sandbox: pool, files });
  for (const tool of sandbox.tools) registry.add(tool);
  for (const entry of sandbox.unavailable) registry.markUnavailable(entry);

  return {
    registry,
    files,
    mcp,
    channels,
    async close() {
      await Promise.all([fetcher.close(), mcpFetcher.close(), pool.close(), browser.close()]);
      await files.close();
    },
  };
}
