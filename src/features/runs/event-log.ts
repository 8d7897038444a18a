import type { Kysely, Transaction } from "kysely";
import type { Database } from "../../db/schema";
import type { Logger } from "../../lib/logger";
import type { RunEvent, SequencedEvent } from "../../runtime/events";

type Executor = Kysely<Database> | Transaction<Database>;

/** Events of a run with seq > `after`, oldest first, at most `limit`. */
export async function readRunEvents(db: Executor, orgId: string, runId: string, after: number, limit: number): Promise<SequencedEvent[]> {
  const rows = await db
    .selectFrom("run_events")
    .select(["seq", "event", "data"])
    .where("org_id", "=", orgId)
    .where("run_id", "=", runId)
    .where("seq", ">", after)
    .orderBy("seq")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ seq: Number(r.seq), event: r.event, data: JSON.parse(r.data) }) as SequencedEvent);
}

/**
 * Appends events and moves the run's `last_event_seq` to the newest, in the caller's transaction.
 * `seqRecorded`: the caller's own statement already set `last_event_seq` to the newest event's
 * seq (a run's ending does), so the second update is skipped.
 */
export async function writeRunEvents(
  trx: Executor,
  orgId: string,
  runId: string,
  events: SequencedEvent[],
  now: number,
  seqRecorded?: number,
): Promise<void> {
  if (events.length === 0) return;
  await trx
    .insertInto("run_events")
    .values(events.map((e) => ({ run_id: runId, seq: e.seq, org_id: orgId, event: e.event, data: JSON.stringify(e.data), created_at: now })))
    .execute();
  if (seqRecorded === events[events.length - 1].seq) return;
  await trx
    .updateTable("runs")
    .set({ last_event_seq: events[events.length - 1].seq })
    .where("org_id", "=", orgId)
    .where("id", "=", runId)
    .execute();
}

/** The data of a run's logged events of one tool event type that belong to some tool calls. */
async function toolEventsOf<T extends { id: string }>(
  db: Executor,
  orgId: string,
  runId: string,
  event: "tool_start" | "tool_result",
  toolCallIds: string[],
): Promise<T[]> {
  if (toolCallIds.length === 0) return [];
  const rows = await db
    .selectFrom("run_events")
    .select("data")
    .where("org_id", "=", orgId)
    .where("run_id", "=", runId)
    .where("event", "=", event)
    .execute();
  return rows.map((row) => JSON.parse(row.data) as T).filter((data) => toolCallIds.includes(data.id));
}

/** The recorded `tool_result` events of some tool calls (to continue a run without running them again). */
export async function recordedToolResults(
  db: Executor,
  orgId: string,
  runId: string,
  toolCallIds: string[],
): Promise<Map<string, { output: string; isError: boolean }>> {
  const results = await toolEventsOf<{ id: string; output: string; isError: boolean }>(db, orgId, runId, "tool_result", toolCallIds);
  return new Map(results.map((r) => [r.id, { output: r.output, isError: r.isError }]));
}

/** Which of some tool calls have a `tool_start` logged: they began running (a call waiting for an approval has none). */
export async function startedToolCalls(db: Executor, orgId: string, runId: string, toolCallIds: string[]): Promise<Set<string>> {
  return new Set((await toolEventsOf(db, orgId, runId, "tool_start", toolCallIds)).map((e) => e.id));
}

/**
 * Cross-tenant on purpose (the retention sweep): removes the event logs of runs that ended
 * before `endedBefore`, a batch at a time, and marks those runs so the events route answers 410.
 */
export async function pruneRunEvents(db: Kysely<Database>, endedBefore: number, now: number, batch = 200): Promise<number> {
  const runs = await db
    .selectFrom("runs")
    .select(["id", "org_id"])
    .where("ended_at", "<", endedBefore)
    .where("events_expired_at", "is", null)
    .limit(batch)
    .execute();
  if (runs.length === 0) return 0;
  const ids = runs.map((r) => r.id);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("run_events").where("run_id", "in", ids).execute();
    await trx.updateTable("runs").set({ events_expired_at: now }).where("id", "in", ids).execute();
  });
  return runs.length;
}

export interface EventSinkOptions {
  db: Kysely<Database>;
  logger: Logger;
  orgId: string;
  runId: string;
  /** seq of the newest event already in the log (0 for a new run). */
  lastSeq: number;
  /** Called after each batch is committed, with the batch. */
  onFlushed(batch: SequencedEvent[]): void;
  /** A batch is written this long after its first event at the latest... */
  flushMs?: number;
  /** ...or as soon as it holds this many events. */
  flushEvents?: number;
}

/**
 * The write side of one run's event log. `emit` numbers an event and returns at once; events are
 * written in batches (by time and count), so no text delta waits for the database on its way to
 * the client. The last batch is written by the run's closing transaction (`takeRest`), together
 * with the run's end and its usage record.
 */
export class RunEventSink {
  private buffer: SequencedEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** seq of the newest event numbered. */
  seq: number;
  /** seq of the newest event committed to the log. */
  flushedSeq: number;

  constructor(private readonly options: EventSinkOptions) {
    this.seq = options.lastSeq;
    this.flushedSeq = options.lastSeq;
  }

  emit(event: RunEvent): SequencedEvent {
    const sequenced = { ...event, seq: ++this.seq } as SequencedEvent;
    if (this.closed) return sequenced;
    this.buffer.push(sequenced);
    if (this.buffer.length >= (this.options.flushEvents ?? 64)) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.flushMs ?? 25);
    return sequenced;
  }

  /** Writes what is buffered now; failures are logged and the events kept for the next attempt. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.writing = this.writing.then(async () => {
      if (this.buffer.length === 0 || this.closed) return;
      const batch = this.buffer;
      this.buffer = [];
      const { db, orgId, runId } = this.options;
      try {
        await db.transaction().execute((trx) => writeRunEvents(trx, orgId, runId, batch, Date.now()));
        this.flushedSeq = batch[batch.length - 1].seq;
        this.options.onFlushed(batch);
      } catch (error) {
        this.buffer = batch.concat(this.buffer);
        this.options.logger.warn("writing run events failed; retrying with the next batch", { runId, error });
        this.timer ??= setTimeout(() => this.flush(), 500);
      }
    });
    return this.writing;
  }

  /**
   * Stops batching and hands over what is not yet written, for the run's closing transaction.
   * Events emitted afterwards are numbered but not buffered.
   */
  async takeRest(): Promise<SequencedEvent[]> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.writing;
    this.closed = true;
    const rest = this.buffer;
    this.buffer = [];
    return rest;
  }

  /** Stops without writing anything more (the run was taken over by another gateway). */
  abandon(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    this.buffer = [];
  }
}
