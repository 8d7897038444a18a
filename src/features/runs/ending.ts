/**
 * How runs end, in one place: the status of a stop reason, the figures of `done`, and the one
 * transaction that ends a run and records it (row, last events, usage record, ended hooks); and
 * the one transaction that makes a run wait for approvals (`requires_action`, with its hooks).
 * Used by the executor and by the paths that end runs nobody executes (cancelled while queued or
 * waiting, interrupted after their gateway died).
 */
import { type Kysely, type Transaction, sql } from "kysely";
import type { Database, RunStatus, RunsTable } from "../../db/schema";
import type { DoneData, RunErrorType, SequencedEvent, StopReason } from "../../runtime/events";
import { type RunTotals, totalTokens } from "../../runtime/loop";
import { addUsage } from "../../runtime/models/retry";
import { type TokenUsage, emptyUsage } from "../../runtime/models/types";
import { insertUsageRecord } from "../usage/repository";
import { writeRunEvents } from "./event-log";
import { type PendingCall, insertPendingApprovals } from "../approvals/repository";
import { type RunEnding, type endRun, endRunReturning, suspendRun } from "./repository";
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
 * What a run's ending writes besides its record (the conversation's time, HISTORY), in the same
 * transaction so the ending costs one commit, but under a savepoint: when it fails, only it is
 * undone (`onError` hears why) and the run is still recorded as ended, with its usage.
 */
export interface EndedAfterwards {
  run(trx: Transaction<Database>): Promise<void>;
  onError(error: unknown): void;
}

/**
 * Ends a run and records it in one transaction: the row (conditionally: false, changing nothing,
 * when it had already ended or is not held as `condition` says), its remaining events, its one
 * usage record and the ended hooks; then `afterwards`, if given (see EndedAfterwards).
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
  afterwards?: EndedAfterwards,
): Promise<boolean> {
  return db.transaction().execute((trx) => endRunRecordedIn(trx, row, agentName, ending, events, now, condition, hooks, afterwards));
}

/** endRunRecorded's writes, in a transaction the caller holds (the executor's last model step shares it). */
export async function endRunRecordedIn(
  trx: Transaction<Database>,
  row: RunsTable,
  agentName: string,
  ending: RunEnding,
  events: SequencedEvent[],
  now: number,
  condition: Parameters<typeof endRun>[5],
  hooks: readonly RunEndedHook[],
  afterwards?: EndedAfterwards,
): Promise<boolean> {
  // The row as it ended comes back from the update itself: the hooks need it, and no other
  // statement of this transaction changes it (the events' seq is the one the update set).
  const ended = await endRunReturning(trx, row.org_id, row.id, ending, now, condition);
  if (!ended) return false;
  await writeRunEvents(trx, row.org_id, row.id, events, now, ending.lastEventSeq);
  await insertUsageRecord(trx, usageRecordOf(row, ending, agentName, now));
  for (const hook of hooks) await hook(trx, ended);
  if (afterwards) {
    await sql`savepoint run_ended_afterwards`.execute(trx);
    try {
      await afterwards.run(trx);
      await sql`release savepoint run_ended_afterwards`.execute(trx);
    } catch (error) {
      await sql`rollback to savepoint run_ended_afterwards`.execute(trx);
      afterwards.onError(error);
    }
  }
  return true;
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
