/**
 * Events of a run, as streamed to clients (DESIGN.md §1 and §2 "Chat"): names and fields are the
 * contract. More fields may be added, none removed.
 */
export type StopReason = "end_turn" | "max_iterations" | "error" | "cancelled";

export interface DoneData {
  iterations: number;
  toolCalls: number;
  /** All input (uncached, cache read, cache write) and output tokens of all model calls. */
  tokens: number;
  /** USD, from the model catalogue's prices. */
  cost: number;
  conversationId: string;
  runId: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  stopReason: StopReason;
}

export type RunErrorType = "provider_error" | "overloaded_error" | "quota_exceeded_error" | "api_error";

export type RunEvent =
  | { event: "text"; data: { text: string } }
  | { event: "tool_start"; data: { tool: string; id: string; input: unknown } }
  | { event: "tool_result"; data: { tool: string; id: string; output: string; isError: boolean } }
  | { event: "error"; data: { error: { type: RunErrorType; message: string } } }
  /**
   * A tool call that waits for a person's decision (the agent's `approvalRequired`): it has not
   * run; the run's status becomes `requires_action` once the turn's other calls are done.
   */
  | { event: "approval_required"; data: { id: string; tool: string; input: unknown } }
  /**
   * First event of a continuation after the gateway running the run stopped: `iteration` is the
   * model call it continues with. Text events before it that belong to that step are superseded.
   */
  | { event: "resumed"; data: { iteration: number } }
  | { event: "done"; data: DoneData };

/** An event as recorded in a run's log and sent with an SSE `id:` line: `seq` is 1, 2, 3, … per run. */
export type SequencedEvent = RunEvent & { seq: number };
