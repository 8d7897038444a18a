import type { RunsTable, UsageRecordsTable } from "../../db/schema";
import { newId } from "../../lib/ids";
import { totalTokens } from "../../runtime/loop";
import type { RunEnding } from "./repository";

/**
 * The one usage record of a run, from its row and how it ended. A run is billed for what its
 * model calls used, whatever the ending; the record is written in the transaction that ends it.
 */
export function usageRecordOf(run: RunsTable, ending: RunEnding, agentName: string, now: number): UsageRecordsTable {
  const { usage } = ending.totals;
  return {
    id: newId("usg"),
    org_id: run.org_id,
    agent_id: run.agent_id,
    agent_name: agentName,
    conversation_id: run.conversation_id,
    run_id: run.id,
    parent_run_id: run.parent_run_id,
    api_key_id: run.api_key_id,
    schedule_id: run.schedule_id,
    user_id: run.user_id,
    model: run.model,
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    cache_read_tokens: usage.cacheReadTokens,
    cache_write_tokens: usage.cacheWriteTokens,
    tokens: totalTokens(usage),
    cost: ending.totals.cost,
    iterations: ending.totals.iterations,
    tool_calls: ending.totals.toolCalls,
    status: ending.status,
    duration_ms: Math.max(0, now - (run.started_at ?? run.created_at)),
    created_at: now,
  };
}
