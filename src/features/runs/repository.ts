import { type Kysely, type Transaction, sql } from "kysely";
import type { Database, RunStatus, RunsTable } from "../../db/schema";
import type { RunTotals } from "../../runtime/loop";
import { type Placeholder, prepare, preparedInsert } from "../../db/prepared";

type Executor = Kysely<Database> | Transaction<Database>;

/** States a run can still leave; every other state is final. */
export const LIVE_STATUSES = ["queued", "running", "requires_action"] as const satisfies readonly RunStatus[];

export const isLive = (status: RunStatus): boolean => (LIVE_STATUSES as readonly string[]).includes(status);

/** The run row's counter columns from the loop's running totals. */
function countersOf(totals: RunTotals) {
  return {
    input_tokens: totals.usage.inputTokens,
    output_tokens: totals.usage.outputTokens,
    cache_read_tokens: totals.usage.cacheReadTokens,
    cache_write_tokens: totals.usage.cacheWriteTokens,
    cost: totals.cost,
    iterations: totals.iterations,
    tool_calls: totals.toolCalls,
  };
}

/** The loop's totals from a run row's counters (what survives a crash). */
export function totalsOf(run: RunsTable): RunTotals {
  return {
    usage: {
      inputTokens: run.input_tokens,
      outputTokens: run.output_tokens,
      cacheReadTokens: run.cache_read_tokens,
      cacheWriteTokens: run.cache_write_tokens,
    },
    cost: run.cost,
    iterations: run.iterations,
    toolCalls: run.tool_calls,
  };
}

export async function insertRun(db: Executor, run: RunsTable): Promise<void> {
  await insertRunRow(db, run);
}

// Prepared (src/db/prepared.ts): every run writes these.
const insertRunRow = preparedInsert("runs");

export function findRun(db: Executor, orgId: string, runId: string): Promise<RunsTable | undefined> {
  return db.selectFrom("runs").selectAll().where("org_id", "=", orgId).where("id", "=", runId).executeTakeFirst();
}

export interface RunFilter {
  orgId: string;
  /** null = every agent of the org. */
  agentIds: string[] | null;
  agentId?: string;
  conversationId?: string;
  status?: RunStatus;
  /** Only runs started by this API key (a chat-only key sees its own runs). */
  apiKeyId?: string;
}

/** A page of an org's runs, newest first. */
export async function listRuns(db: Executor, filter: RunFilter, page: number, limit: number): Promise<{ rows: RunsTable[]; total: number }> {
  let base = db.selectFrom("runs").where("org_id", "=", filter.orgId);
  if (filter.agentIds) base = base.where("agent_id", "in", filter.agentIds);
  if (filter.agentId) base = base.where("agent_id", "=", filter.agentId);
  if (filter.conversationId) base = base.where("conversation_id", "=", filter.conversationId);
  if (filter.status) base = base.where("status", "=", filter.status);
  if (filter.apiKeyId) base = base.where("api_key_id", "=", filter.apiKeyId);
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .offset((page - 1) * limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** How many of the org's runs wait in the queue (checked at every background start). */
export async function countQueuedRuns(db: Executor, orgId: string): Promise<number> {
  const row = await queuedCount.first(db, [orgId]);
  return Number(row?.n ?? 0);
}

// Prepared (src/db/prepared.ts). The status is a literal so that the partial index of queued runs
// (migration 0019) answers it: reading only the org's queued runs, not every run it ever made.
const queuedCount = prepare<[string], { n: number }>((db, p) =>
  db
    .selectFrom("runs")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", p(0))
    .where("status", "=", sql.lit<"queued">("queued")),
);

/** Stores the running totals after a model call, while this gateway holds the run. */
export async function saveRunProgress(db: Executor, orgId: string, runId: string, owner: string, totals: RunTotals, now: number): Promise<void> {
  const c = countersOf(totals);
  await progress.execute(db, [c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens, c.cost, c.iterations, c.tool_calls, now, orgId, runId, owner]);
}

// Prepared (src/db/prepared.ts): after every model call of every run. The columns are countersOf's, in its order.
const progress = prepare<[number, number, number, number, number, number, number, number, string, string, string], never>((db, p) =>
  db
    .updateTable("runs")
    .set({
      input_tokens: p(0),
      output_tokens: p(1),
      cache_read_tokens: p(2),
      cache_write_tokens: p(3),
      cost: p(4),
      iterations: p(5),
      tool_calls: p(6),
      updated_at: p(7),
    })
    .where("org_id", "=", p(8))
    .where("id", "=", p(9))
    .where("lease_owner", "=", p(10)),
);

/**
 * Claims a run for `owner` until `until`: a queued run, or a running one whose lease lapsed (its
 * gateway died). One conditional statement, so of two gateways racing for a run exactly one wins.
 */
export async function claimRun(
  db: Executor,
  orgId: string,
  runId: string,
  owner: string,
  now: number,
  until: number,
  from: "queued" | "orphaned",
): Promise<boolean> {
  let query = db
    .updateTable("runs")
    .set((eb) => ({
      status: "running" as const,
      lease_owner: owner,
      lease_expires_at: until,
      started_at: eb.fn.coalesce("started_at", eb.val(now)),
      updated_at: now,
    }))
    .where("org_id", "=", orgId)
    .where("id", "=", runId);
  query =
    from === "queued"
      ? query.where("status", "=", "queued")
      : query.where("status", "=", "running").where("lease_expires_at", "<", now);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Extends the leases `owner` holds on `runIds`, in one statement; returns the runs still held, with
 * whether a cancel was requested. Cross-tenant on purpose: a gateway process's own leases span
 * orgs, and `lease_owner` (unique to the process) is what scopes it; nothing read leaves the gateway.
 */
export async function renewLeases(
  db: Executor,
  owner: string,
  runIds: string[],
  until: number,
  now: number,
): Promise<Map<string, { cancelRequested: boolean }>> {
  const held = new Map<string, { cancelRequested: boolean }>();
  if (runIds.length === 0) return held;
  const rows = await db
    .updateTable("runs")
    .set({ lease_expires_at: until, updated_at: now })
    .where("id", "in", runIds)
    .where("lease_owner", "=", owner)
    .where("status", "=", "running")
    .returning(["id", "cancel_requested_at"])
    .execute();
  for (const row of rows) held.set(row.id, { cancelRequested: row.cancel_requested_at !== null });
  return held;
}

/** Whether a cancel was requested for the run (read at lease renewal, in case a notification was lost). */
export async function cancelRequested(db: Executor, orgId: string, runId: string): Promise<boolean> {
  const row = await db.selectFrom("runs").select("cancel_requested_at").where("org_id", "=", orgId).where("id", "=", runId).executeTakeFirst();
  return row?.cancel_requested_at != null;
}

export async function requestCancel(db: Executor, orgId: string, runId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable("runs")
    .set({ cancel_requested_at: now, updated_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", runId)
    .where("status", "in", LIVE_STATUSES)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export interface RunEnding {
  status: RunStatus;
  stopReason: string;
  error: { type: string; message: string } | null;
  totals: RunTotals;
  lastEventSeq: number;
}

/**
 * Ends a live run once: false when it had already ended or is not in a state `condition` allows
 * (another path ended it, or another gateway holds it). `condition`: the owner that must hold it,
 * or the states it may be ended from without an owner (a queued or waiting run, or one whose
 * gateway died).
 */
export async function endRun(
  db: Executor,
  orgId: string,
  runId: string,
  ending: RunEnding,
  now: number,
  condition: { owner: string } | { unowned: "queued_or_waiting" | "lease_expired" },
): Promise<boolean> {
  return (await endRunReturning(db, orgId, runId, ending, now, condition)) !== undefined;
}

/** `endRun` that answers the row as it ended (one statement: RETURNING), or undefined when nothing changed. */
export async function endRunReturning(
  db: Executor,
  orgId: string,
  runId: string,
  ending: RunEnding,
  now: number,
  condition: { owner: string } | { unowned: "queued_or_waiting" | "lease_expired" },
): Promise<RunsTable | undefined> {
  const c = countersOf(ending.totals);
  const args: EndArgs = [
    c.input_tokens,
    c.output_tokens,
    c.cache_read_tokens,
    c.cache_write_tokens,
    c.cost,
    c.iterations,
    c.tool_calls,
    ending.status,
    ending.stopReason,
    ending.error ? JSON.stringify(ending.error) : null,
    ending.lastEventSeq,
    now,
    orgId,
    runId,
  ];
  if ("owner" in condition) return endOwned.first(db, [...args, condition.owner]);
  return (condition.unowned === "queued_or_waiting" ? endQueuedOrWaiting : endLeaseExpired).first(db, args);
}

// Prepared (src/db/prepared.ts): every run ends with one of these (built per call, the owner's
// was ~0.2 ms of Kysely's building and compiling per run). Arguments: countersOf's columns in
// its order, status, stop reason, error, last event seq, now, org, run (and the owner).
type EndArgs = [number, number, number, number, number, number, number, RunStatus, string, string | null, number, number, string, string];
const endingUpdate = (db: Kysely<Database>, p: Placeholder) =>
  db
    .updateTable("runs")
    .set({
      input_tokens: p(0),
      output_tokens: p(1),
      cache_read_tokens: p(2),
      cache_write_tokens: p(3),
      cost: p(4),
      iterations: p(5),
      tool_calls: p(6),
      status: p(7),
      stop_reason: p(8),
      error: p(9),
      last_event_seq: p(10),
      lease_owner: null,
      lease_expires_at: null,
      updated_at: p(11),
      ended_at: p(11),
    })
    .where("org_id", "=", p(12))
    .where("id", "=", p(13));
const endOwned = prepare<[...EndArgs, string], RunsTable>((db, p) =>
  endingUpdate(db, p).where("status", "=", "running").where("lease_owner", "=", p(14)).returningAll(),
);
const endQueuedOrWaiting = prepare<EndArgs, RunsTable>((db, p) =>
  endingUpdate(db, p).where("status", "in", ["queued", "requires_action"]).returningAll(),
);
const endLeaseExpired = prepare<EndArgs, RunsTable>((db, p) =>
  endingUpdate(db, p).where("status", "=", "running").where("lease_expires_at", "<", p(11)).returningAll(),
);

/**
 * Makes a run this owner holds wait for decisions (`requires_action`): its lease is given up (a
 * waiting run is executed nowhere), its counters saved, and it becomes durable (`background`), so
 * it continues once decided whether or not the client that started it is still there. False when
 * the run is no longer this owner's.
 */
export async function suspendRun(db: Executor, orgId: string, runId: string, owner: string, totals: RunTotals, lastEventSeq: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable("runs")
    .set({ ...countersOf(totals), status: "requires_action", background: 1, last_event_seq: lastEventSeq, lease_owner: null, lease_expires_at: null, updated_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", runId)
    .where("status", "=", "running")
    .where("lease_owner", "=", owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A waiting run whose calls are all decided goes back to the queue (any gateway continues it); false when it no longer waits. */
export async function requeueWaitingRun(db: Executor, orgId: string, runId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable("runs")
    .set({ status: "queued", updated_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", runId)
    .where("status", "=", "requires_action")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Cross-tenant on purpose (the sweep of every gateway): running runs whose lease lapsed, i.e.
 * whose gateway died or lost the database for longer than a lease.
 */
export function findOrphanedRuns(db: Executor, now: number, limit = 100): Promise<RunsTable[]> {
  return db.selectFrom("runs").selectAll().where("status", "=", "running").where("lease_expires_at", "<", now).limit(limit).execute();
}

/**
 * Cross-tenant on purpose (the dispatcher): running runs held by one of `owners` (gateways of
 * this host that are gone), regardless of their lease.
 */
export function findRunsOfOwners(db: Executor, owners: string[], limit = 100): Promise<RunsTable[]> {
  if (owners.length === 0) return Promise.resolve([]);
  return db.selectFrom("runs").selectAll().where("status", "=", "running").where("lease_owner", "in", owners).limit(limit).execute();
}

/** Cross-tenant on purpose (the sweep looks for owners that died): lease owners of running runs. */
export async function runningOwners(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom("runs").select("lease_owner").distinct().where("status", "=", "running").execute();
  return rows.map((r) => r.lease_owner).filter((o): o is string => o !== null);
}

/** Cross-tenant on purpose (the dispatcher): the oldest queued runs. */
export function findQueuedRuns(db: Executor, limit = 200): Promise<RunsTable[]> {
  return db.selectFrom("runs").selectAll().where("status", "=", "queued").orderBy("created_at").orderBy("id").limit(limit).execute();
}
