import type { Kysely, Transaction } from "kysely";
import { type PreparedQuery, prepare } from "../../db/prepared";
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

/** One event as its `run_events` row's values, in the prepared inserts' column order. */
const logRow = (orgId: string, runId: string, e: SequencedEvent, now: number): unknown[] => [
  runId,
  e.seq,
  orgId,
  e.event,
  JSON.stringify(e.data),
  now,
];

/**
 * Multi-row inserts of 64, 8 and 1 events, each prepared once: any number of rows goes as a few
 * of them. Built per count by Kysely, every window's insert had its own SQL text, compiled by
 * Kysely and prepared by SQLite anew (with 5,000 streaming runs, 1,355 prepares in a 30 s hold).
 */
const INSERT_SIZES = [64, 8, 1];
const COLUMNS = 6;
const insertsOf = new Map(
  INSERT_SIZES.map((size) => [
    size,
    prepare<unknown[], unknown>((db, p) =>
      db.insertInto("run_events").values(
        Array.from({ length: size }, (_, r) => ({
          run_id: p(r * COLUMNS),
          seq: p(r * COLUMNS + 1),
          org_id: p(r * COLUMNS + 2),
          event: p(r * COLUMNS + 3),
          data: p(r * COLUMNS + 4),
          created_at: p(r * COLUMNS + 5),
        })),
      ),
    ),
  ]),
);

async function insertRows(trx: Executor, rows: unknown[][]): Promise<void> {
  let i = 0;
  for (const size of INSERT_SIZES) {
    const insert = insertsOf.get(size) as PreparedQuery<unknown[], unknown>;
    for (; rows.length - i >= size; i += size) await insert.execute(trx, rows.slice(i, i + size).flat());
  }
}

const moveLastSeq = prepare<[number, string, string], unknown>((db, p) =>
  db.updateTable("runs").set({ last_event_seq: p(0) }).where("org_id", "=", p(1)).where("id", "=", p(2)),
);

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
  await insertRows(
    trx,
    events.map((e) => logRow(orgId, runId, e, now)),
  );
  const last = events[events.length - 1].seq;
  if (seqRecorded !== last) await moveLastSeq.execute(trx, [last, orgId, runId]);
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
  /** The gateway's writer, shared by every run it executes (one transaction per window for all of them). */
  log: RunEventLog;
  logger: Logger;
  orgId: string;
  runId: string;
  /** seq of the newest event already in the log (0 for a new run). */
  lastSeq: number;
  /** Called after each batch is committed, with the batch. */
  onFlushed(batch: SequencedEvent[]): void;
  /** A batch is written as soon as it holds this many events (else within the log's window). */
  flushEvents?: number;
}

/**
 * Group commit of the event logs of every run a gateway executes. A run's events are written
 * within `flushMs` of the first one (the latency a follower on another gateway sees), and every
 * run with events due in that window is written in the same transaction: 200 streaming runs cost
 * one commit per window instead of one per run per window (measured in BENCHMARKS.md, issue 18:
 * with answers streamed over ~1 s, one transaction per text delta of every run before).
 * Should the shared transaction fail (one run's row was deleted meanwhile), each run's batch is
 * tried in a transaction of its own, so one run cannot hold back the others.
 */
export class RunEventLog {
  private due = new Set<RunEventSink>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly flushMs = 25,
  ) {}

  /** `sink` has events to write: they go with the next window's transaction. */
  schedule(sink: RunEventSink): void {
    this.due.add(sink);
    this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** No longer writes for `sink` (it hands its rest to its run's closing transaction, or was abandoned). */
  forget(sink: RunEventSink): void {
    this.due.delete(sink);
  }

  /** Writes what every run has due now; resolves once it is committed (or kept for a retry). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.writing = this.writing.then(() => this.writeDue());
    return this.writing;
  }

  /** Resolves once every write started so far has settled. */
  settled(): Promise<void> {
    return this.writing;
  }

  private async writeDue(): Promise<void> {
    const batches = [...this.due].map((sink) => ({ sink, events: sink.takeBuffer() })).filter((b) => b.events.length > 0);
    this.due.clear();
    if (batches.length === 0) return;
    const now = Date.now();
    try {
      await this.db.transaction().execute((trx) => writeBatches(trx, batches, now));
      for (const b of batches) b.sink.committed(b.events);
    } catch (error) {
      if (batches.length === 1) return batches[0].sink.failed(batches[0].events, error);
      for (const b of batches) {
        try {
          await this.db.transaction().execute((trx) => writeBatches(trx, [b], now));
          b.sink.committed(b.events);
        } catch (own) {
          b.sink.failed(b.events, own);
        }
      }
    }
  }
}

/** Several runs' events in one transaction: multi-row inserts, then each run's `last_event_seq` (prepared once). */
async function writeBatches(trx: Transaction<Database>, batches: Array<{ sink: RunEventSink; events: SequencedEvent[] }>, now: number) {
  await insertRows(
    trx,
    batches.flatMap(({ sink, events }) => events.map((e) => logRow(sink.orgId, sink.runId, e, now))),
  );
  for (const { sink, events } of batches) await moveLastSeq.execute(trx, [events[events.length - 1].seq, sink.orgId, sink.runId]);
}

/**
 * The write side of one run's event log. `emit` numbers an event and returns at once; events are
 * written in batches by the gateway's `RunEventLog` (by time and count), so no text delta waits
 * for the database on its way to the client. The last batch is written by the run's closing
 * transaction (`takeRest`), together with the run's end and its usage record.
 */
export class RunEventSink {
  private buffer: SequencedEvent[] = [];
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  /** seq of the newest event numbered. */
  seq: number;
  /** seq of the newest event committed to the log. */
  flushedSeq: number;
  readonly orgId: string;
  readonly runId: string;

  constructor(private readonly options: EventSinkOptions) {
    this.seq = options.lastSeq;
    this.flushedSeq = options.lastSeq;
    this.orgId = options.orgId;
    this.runId = options.runId;
  }

  emit(event: RunEvent): SequencedEvent {
    // A literal, not `{ ...event, seq }`: the events of many shapes make a spread's clone
    // megamorphic, and V8 then gives every copy a hidden class of its own (~250 bytes more per
    // event, and each run keeps up to LOCAL_TAIL of them in memory).
    const sequenced = { event: event.event, data: event.data, seq: ++this.seq } as SequencedEvent;
    if (this.closed) return sequenced;
    this.buffer.push(sequenced);
    if (this.buffer.length >= (this.options.flushEvents ?? 64)) this.flush();
    else this.options.log.schedule(this);
    return sequenced;
  }

  /** Writes what is buffered now (with whatever other runs have due); failures are logged and the events kept. */
  flush(): Promise<void> {
    if (this.buffer.length > 0 && !this.closed) this.options.log.schedule(this);
    return this.options.log.flush();
  }

  /** For the log: the events to write now (none once closed). */
  takeBuffer(): SequencedEvent[] {
    if (this.closed) return [];
    const batch = this.buffer;
    this.buffer = [];
    return batch;
  }

  /** For the log: `batch` is committed. */
  committed(batch: SequencedEvent[]): void {
    this.flushedSeq = batch[batch.length - 1].seq;
    this.options.onFlushed(batch);
  }

  /** For the log: writing `batch` failed; it is kept, ahead of newer events, and tried again shortly. */
  failed(batch: SequencedEvent[], error: unknown): void {
    this.buffer = batch.concat(this.buffer);
    this.options.logger.warn("writing run events failed; retrying with the next batch", { runId: this.runId, error });
    // Closed: `takeRest` hands these to the closing transaction (or `abandon` drops them).
    if (this.closed) return;
    this.retry ??= setTimeout(() => {
      this.retry = null;
      if (!this.closed) this.options.log.schedule(this);
    }, 500);
  }

  /**
   * Stops batching and hands over what is not yet written, for the run's closing transaction.
   * Events emitted afterwards are numbered but not buffered.
   */
  async takeRest(): Promise<SequencedEvent[]> {
    // Closed first, so no later window takes any of them; a write already holding some of them
    // settles first (what fails comes back into the buffer), so the rest follows in seq order.
    this.stop();
    await this.options.log.settled();
    const rest = this.buffer;
    this.buffer = [];
    return rest;
  }

  /** Stops without writing anything more (the run was taken over by another gateway). */
  abandon(): void {
    this.stop();
    this.buffer = [];
  }

  private stop(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.options.log.forget(this);
  }
}
