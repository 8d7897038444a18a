import { TOOL_TIERS, isToolName } from "./names";
import type { ToolDefinition, ToolTier, UnavailableTool } from "./types";
import { tierRank } from "./types";

/**
 * The one registry of tools this deployment can run. Tools are built once from configuration
 * (see services.ts); the registry answers which of an agent's enabled tools a run may use:
 * enabled ∩ plan tier ∩ configured here.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition<any>>();
  private readonly missing = new Map<string, UnavailableTool>();
  private readonly runEndHooks: Array<(runId: string) => Promise<void> | void> = [];

  /** Registers cleanup for per-run state a tool keeps (e.g. the browser's context of that run). */
  onRunEnd(hook: (runId: string) => Promise<void> | void): this {
    this.runEndHooks.push(hook);
    return this;
  }

  /** Called once when a run ends, whatever the ending. */
  async endRun(runId: string): Promise<void> {
    await Promise.allSettled(this.runEndHooks.map(async (hook) => hook(runId)));
  }

  /** Registers a tool, replacing one of the same name. */
  add(tool: ToolDefinition<any>): this {
    this.tools.set(tool.name, tool);
    this.missing.delete(tool.name);
    return this;
  }

  /** Records why a tool cannot run in this deployment (shown to users as `unavailableTools`). */
  markUnavailable(entry: UnavailableTool): this {
    if (!this.tools.has(entry.name)) this.missing.set(entry.name, entry);
    return this;
  }

  /** Tools of the deployment that are not configured, with the reason. */
  unavailable(): UnavailableTool[] {
    const out = [...this.missing.values()];
    for (const name of Object.keys(TOOL_TIERS)) {
      if (!this.tools.has(name) && !this.missing.has(name)) out.push({ name, reason: `${name} is not available in this deployment.` });
    }
    return out;
  }

  /** The tools a run may offer the model: enabled by the agent, within the plan's tier, and configured. */
  forRun(enabled: readonly string[], planTier: ToolTier): ToolDefinition<any>[] {
    const out: ToolDefinition<any>[] = [];
    for (const name of new Set(enabled)) {
      if (!isToolName(name)) continue;
      if (tierRank[TOOL_TIERS[name]] > tierRank[planTier]) continue;
      const tool = this.tools.get(name);
      if (tool) out.push(tool);
    }
    return out;
  }
}
