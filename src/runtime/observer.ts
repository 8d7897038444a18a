import type { TokenUsage } from "./models/types";

/**
 * What a run tells the operator's instruments (metrics, traces) about its model and tool calls.
 * The runtime calls it and knows nothing of what is behind it; each start returns the function
 * that ends the measurement. Keep implementations cheap: they run inside the loop.
 */
export interface RunObserver {
  modelCall(call: { provider: string; model: string }): (outcome: { usage: TokenUsage; error: string | null }) => void;
  toolCall(call: { tool: string; id: string }): (outcome: { isError: boolean }) => void;
}
