import type { ToolTier, UnavailableTool } from "./types";
import { tierRank } from "./types";

/** Every tool an agent may enable, with the plan tier that unlocks it (DESIGN.md §1). */
export const TOOL_TIERS = {
  web_search: "free",
  read_url: "free",
  memory_read: "free",
  memory_write: "free",
  message: "free",
  exec: "pro",
  read_file: "pro",
  write_file: "pro",
  browser: "pro",
  subagent: "agency",
  mcp_call: "agency",
} as const satisfies Record<string, ToolTier>;

export type ToolName = keyof typeof TOOL_TIERS;
export const TOOL_NAMES = Object.keys(TOOL_TIERS) as ToolName[];

export function isToolName(name: string): name is ToolName {
  return Object.hasOwn(TOOL_TIERS, name);
}

/**
 * Which of an agent's enabled tools it may not use, and why: above the org's plan tier, or not
 * available in this deployment (`deploymentUnavailable`, e.g. no search provider configured).
 */
export function unavailableTools(
  enabled: readonly string[],
  planTier: ToolTier,
  planName: string,
  deploymentUnavailable: readonly UnavailableTool[] = [],
): UnavailableTool[] {
  const out: UnavailableTool[] = [];
  for (const name of enabled) {
    if (!isToolName(name)) continue;
    const tier = TOOL_TIERS[name];
    if (tierRank[tier] > tierRank[planTier]) {
      out.push({ name, reason: `Requires the ${tier === "pro" ? "Pro" : "Agency"} plan or higher; this org is on ${planName}.` });
      continue;
    }
    const missing = deploymentUnavailable.find((u) => u.name === name);
    if (missing) out.push(missing);
  }
  return out;
}
