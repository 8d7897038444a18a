import type { z } from "zod";

/** Plan tiers of tools, lowest first (DESIGN.md §1: Free, Pro and up, Agency). */
export type ToolTier = "free" | "pro" | "agency";

export const tierRank: Record<ToolTier, number> = { free: 0, pro: 1, agency: 2 };

/** What a running tool may know about the run it serves. No HTTP, no SQL: only what is passed in. */
export interface ToolContext {
  orgId: string;
  agentId: string;
  runId: string;
  conversationId: string;
  /** Aborted when the run is cancelled or the tool's own time limit passes. */
  signal: AbortSignal;
}

/** What a tool returns: text for the model, flagged as an error when the tool failed. */
export interface ToolOutput {
  content: string;
  isError?: boolean;
}

export interface ToolDefinition<Input = unknown> {
  name: string;
  /** Shown to the model. */
  description: string;
  tier: ToolTier;
  input: z.ZodType<Input>;
  /** Wall-clock limit of one call; the context's signal aborts at this deadline. */
  timeoutMs: number;
  execute(input: Input, context: ToolContext): Promise<ToolOutput | string>;
}

/** A tool that cannot be offered in this deployment, and why (e.g. "BRAVE_API_KEY is not set"). */
export interface UnavailableTool {
  name: string;
  reason: string;
}
