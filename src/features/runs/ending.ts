/**
 * How runs end, in one place: the status of a stop reason, the figures of `done`, and the one
 * transaction that ends a run and records it (row, last events, usage record, ended hooks); and
 * the one transaction that makes a run wait for approvals (`requires_action`, with its hooks).
 * Used by the executor and by the paths that end runs nobody executes (cancelled while queued or
 * waiting, interrupted after their gateway died).
 */
import type { Kysely, Transaction } from "kysely";
import type { Database, RunStatus, RunsTable } from "../../db/schema";
import type { DoneData, RunErrorType, SequencedEvent, StopReason } from "../../runtime/events";
import { type RunTotals, totalTokens } from "../../runtime/loop";
import { addUsage } from "../../runtime/models/retry";
import { type TokenUsage, emptyUsage } from "../../runtime/models/types";
import { insertUsageRecord } from "../usage/repository";
import { writeRunEvents } from "./event-log";
import { type PendingCall, insertPendingApprovals } from "../approvals/repository";
import { type RunEnding, endRun, suspendRun } from "./repository";
import { usageRecordOf } from "./usage-record";

export const statusOf = (stop: StopReason): RunStatus => (stop === "end_turn" ? "completed" : stop);

/** Called in the transaction that ends a run (e.g. to enqueue its webhooks with it). */
export type RunEndedHook = (trx: Transaction<Database>, run: RunsTable) => Promise<void>;

/** Called in the transaction that makes a run wait for approvals (e.g. a `run.requires_action` webhook); `run` is the row as it then is. */
export type RunWaitingHook = (trx: Transaction<Database>, run: RunsTable) => Promise<void>;

/** The `done` event's figures; they include the subagents' usage (each also has its own usage record). */
export function doneData(
  row: Pick<RunsTable, "id" | "conversation_id">,
  totals: RunTotals,
  stopReason: StopReason,
  children: { usage: TokenUsage; cost: number } = { usage: emptyUsage(), cost: 0 },
): DoneData {
  const shown = addUsage(totals.usage, children.usage);
  return {
    iterations: totals.iterations,
    toolCalls: totals.toolCalls,
    tokens: totalTokens(shown),
    cost: totals.cost + children.cost,
    conversationId: row.conversation_id,
    runId: row.id,
    inputTokens: shown.inputTokens,
    outputTokens: shown.outputTokens,
    cacheReadTokens: shown.cacheReadTokens,
    cacheWriteTokens: shown.cacheWriteTokens,
    stopReason,
  };
}

/** The closing events of a run: `error` when it failed, then `done`, numbered after `lastSeq`. */
export function closingEvents(
  row: Pick<RunsTable, "id" | "conversation_id">,
  lastSeq: number,
  totals: RunTotals,
  stopReason: StopReason,
  error: { type: RunErrorType; message: string } | null,
  children?: { usage: TokenUsage; cost: number },
): SequencedEvent[] {
  const events: SequencedEvent[] = [];
  if (error) events.push({ seq: lastSeq + 1, event: "error", data: { error } });
  events.push({ seq: lastSeq + events.length + 1, event: "done", data: doneData(row, totals, stopReason, children) });
  return events;
}

/**
 * Ends a run and records it in one transaction: the row (conditionally: false, changing nothing,
 * when it had already ended or is not held as `condition` says), its remaining events, its one
 * usage record and the ended hooks.
 */
export async function endRunRecorded(
  db: Kysely<Database>,
  row: RunsTable,
  agentName: string,
  ending: RunEnding,
  events: SequencedEvent[],
  now: number,
  condition: Parameters<typeof endRun>[5],
  hooks: readonly RunEndedHook[],
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await endRun(trx, row.org_id, row.id, ending, now, condition))) return false;
    await writeRunEvents(trx, row.org_id, row.id, events, now);
    await insertUsageRecord(trx, usageRecordOf(row, ending, agentName, now));
    if (hooks.length > 0) {
      const ended = await trx.selectFrom("runs").selectAll().where("org_id", "=", row.org_id).where("id", "=", row.id).executeTakeFirstOrThrow();
      for (const hook of hooks) await hook(trx, ended);
    }
    return true;
  });
}

/**
 * The one place a run becomes `requires_action`: in one transaction its row (conditionally on
 * `owner` still holding it: false, changing nothing, otherwise), its remaining events, the calls
 * it waits for, and the waiting hooks. The run keeps no lease and no slot while it waits.
 */
export async function suspendRunRecorded(
  db: Kysely<Database>,
  row: RunsTable,
  owner: string,
  totals: RunTotals,
  events: SequencedEvent[],
  lastEventSeq: number,
  calls: PendingCall[],
  timing: { now: number; expiresAt: number },
  hooks: readonly RunWaitingHook[],
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await suspendRun(trx, row.org_id, row.id, owner, totals, lastEventSeq, timing.now))) return false;
    await writeRunEvents(trx, row.org_id, row.id, events, timing.now);
    await insertPendingApprovals(trx, row.org_id, row.id, calls, timing.now, timing.expiresAt);
    if (hooks.length > 0) {
      const waiting = await trx.selectFrom("runs").selectAll().where("org_id", "=", row.org_id).where("id", "=", row.id).executeTakeFirstOrThrow();
      for (const hook of hooks) await hook(trx, waiting);
    }
    return true;
  });
}
