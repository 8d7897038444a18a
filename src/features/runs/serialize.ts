import { z } from "@hono/zod-openapi";
import type { RunsTable } from "../../db/schema";
import { iso } from "../../http/openapi";
import { totalTokens } from "../../runtime/loop";
import { totalsOf } from "./repository";

export const RunStatusSchema = z.enum(["queued", "running", "requires_action", "completed", "max_iterations", "error", "cancelled", "interrupted"]);

export const PendingApprovalSchema = z.object({ toolCallId: z.string(), tool: z.string(), input: z.unknown() }).openapi("PendingApproval");

export const RunSchema = z
  .object({
    id: z.string().openapi({ example: "run_4f9Kq2" }),
    agentId: z.string(),
    conversationId: z.string(),
    parentRunId: z.string().nullable(),
    scheduleId: z.string().nullable().openapi({ description: "The schedule whose tick started the run, if any" }),
    status: RunStatusSchema,
    background: z.boolean(),
    stopReason: z.enum(["end_turn", "max_iterations", "error", "cancelled"]).nullable(),
    error: z.object({ type: z.string(), message: z.string() }).nullable(),
    iterations: z.number(),
    toolCalls: z.number(),
    tokens: z.number(),
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheReadTokens: z.number(),
    cacheWriteTokens: z.number(),
    cost: z.number().openapi({ description: "USD, this run's own model calls (each subagent run has its own)" }),
    lastEventId: z.number().openapi({ description: "seq of the run's newest logged event (0 before the first)" }),
    pendingApprovals: z.array(PendingApprovalSchema),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
  })
  .openapi("Run");

export type RunObject = z.infer<typeof RunSchema>;

/** A run as the API returns it (DESIGN.md §6). */
export function serializeRun(run: RunsTable, pendingApprovals: RunObject["pendingApprovals"] = []): RunObject {
  const totals = totalsOf(run);
  return {
    id: run.id,
    agentId: run.agent_id,
    conversationId: run.conversation_id,
    parentRunId: run.parent_run_id,
    scheduleId: run.schedule_id,
    status: run.status,
    background: run.background === 1,
    stopReason: (run.stop_reason as RunObject["stopReason"]) ?? null,
    error: run.error ? (JSON.parse(run.error) as { type: string; message: string }) : null,
    iterations: run.iterations,
    toolCalls: run.tool_calls,
    tokens: totalTokens(totals.usage),
    inputTokens: run.input_tokens,
    outputTokens: run.output_tokens,
    cacheReadTokens: run.cache_read_tokens,
    cacheWriteTokens: run.cache_write_tokens,
    cost: run.cost,
    lastEventId: run.last_event_seq,
    pendingApprovals,
    createdAt: iso(run.created_at),
    startedAt: iso(run.started_at),
    endedAt: iso(run.ended_at),
  };
}
