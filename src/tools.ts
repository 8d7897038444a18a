import type { Kysely } from "kysely";
import type { Config } from "./config";
import type { Database } from "./db/schema";
import { createMemoryStore } from "./features/memory/store";
import { createBubblewrapBackend, sandboxOwnerFor } from "./runtime/sandbox/bubblewrap";
import { createWorkspaceFiles } from "./runtime/sandbox/files";
import { createSandboxPool } from "./runtime/sandbox/pool";
import { createSandboxTools } from "./runtime/sandbox/tools";
import type { WorkspaceFiles } from "./runtime/sandbox/types";
import { createBrowserTool, probeBrowser } from "./runtime/tools/browser";
import { createGuardedFetcher } from "./runtime/tools/net/guarded-fetch";
import { createMemoryTools } from "./runtime/tools/memory";
import { createReadUrlTool } from "./runtime/tools/read-url";
import { ToolRegistry } from "./runtime/tools/registry";
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
): Promise<{ registry: ToolRegistry; files: WorkspaceFiles; close(): Promise<void> }> {
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
  const browser = createBrowserTool({ files, executablePath: config.sandbox.chromiumPath, allowlist: config.fetchAllowlist });
  registry.onRunEnd((runId) => browser.closeRun(runId));

  // A Chromium launch takes seconds, so it is probed in the background: the browser is offered
  // once the probe passes. The sandbox probe is one bwrap call (tens of ms) and is awaited.
  registry.markUnavailable({ name: "browser", reason: "Chromium is being checked; the browser is offered once it starts." });
  const browserProbe = probeBrowser(config.sandbox.chromiumPath).then((probe) => {
    if (probe.ok) registry.add(browser.tool);
    else registry.markUnavailable({ name: "browser", reason: probe.reason });
  });
  const sandbox = await createSandboxTools({ backend, sandbox: pool, files });
  for (const tool of sandbox.tools) registry.add(tool);
  for (const entry of sandbox.unavailable) registry.markUnavailable(entry);

  return {
    registry,
    files,
    async close() {
      // A probe still launching Chromium is waited for, so no browser process outlives the gateway.
      await browserProbe;
      await Promise.all([fetcher.close(), pool.close(), browser.close()]);
    },
  };
}
