import { type ExpressionBuilder, type Kysely, type Transaction, sql } from "kysely";
import type { Database, UsageDailyTable, UsageRecordsTable } from "../../db/schema";
import { DAY_MS, ceilDay, floorDay } from "../billing/period";

type Executor = Kysely<Database> | Transaction<Database>;

/** Which records a query covers: one org, optionally some agents, and a [from, to) time range in epoch ms. */
export interface UsageFilter {
  orgId: string;
  /** null = all agents; never empty (callers answer empty results themselves). */
  agentIds: string[] | null;
  from: number | null;
  /** Exclusive. */
  to: number | null;
}

/** Sums over a set of usage records. */
export interface UsageTotals {
  runs: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  toolCalls: number;
}

const emptyTotals = (): UsageTotals => ({ runs: 0, tokens: 0, inputTokens: 0, outputTokens: 0, cost: 0, toolCalls: 0 });

function addTotals(into: UsageTotals, add: UsageTotals): void {
  into.runs += add.runs;
  into.tokens += add.tokens;
  into.inputTokens += add.inputTokens;
  into.outputTokens += add.outputTokens;
  into.cost += add.cost;
  into.toolCalls += add.toolCalls;
}

const rollupDelta = (r: UsageRecordsTable): UsageDailyTable => ({
  org_id: r.org_id,
  day: floorDay(r.created_at),
  agent_id: r.agent_id,
  runs: 1,
  tokens: r.tokens,
  input_tokens: r.input_tokens,
  output_tokens: r.output_tokens,
  tool_calls: r.tool_calls,
  cost: r.cost,
});

async function addToRollup(trx: Executor, rows: UsageDailyTable[]): Promise<void> {
  await trx
    .insertInto("usage_daily")
    .values(rows)
    .onConflict((oc) =>
      oc.columns(["org_id", "day", "agent_id"]).doUpdateSet({
        runs: sql`usage_daily.runs + excluded.runs`,
        tokens: sql`usage_daily.tokens + excluded.tokens`,
        input_tokens: sql`usage_daily.input_tokens + excluded.input_tokens`,
        output_tokens: sql`usage_daily.output_tokens + excluded.output_tokens`,
        tool_calls: sql`usage_daily.tool_calls + excluded.tool_calls`,
        cost: sql`usage_daily.cost + excluded.cost`,
      }),
    )
    .execute();
}

/** Runs `fn` in a transaction, or inside the caller's when it already holds one. */
function inTransaction<T>(db: Executor, fn: (trx: Executor) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : (db as Kysely<Database>).transaction().execute(fn);
}

/**
 * Stores the usage record of a run and adds it to the daily rollup, atomically. Returns false,
 * changing nothing, when the run already has a record (run_id is unique): a run is billed once.
 */
export function insertUsageRecord(db: Executor, record: UsageRecordsTable): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const result = await trx
      .insertInto("usage_records")
      .values(record)
      .onConflict((oc) => oc.column("run_id").doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) return false;
    await addToRollup(trx, [rollupDelta(record)]);
    return true;
  });
}

/**
 * Stores many usage records (imports, benchmarks) in batched multi-row inserts, skipping runs that
 * already have one, with the rollup updated in the same transaction. Returns how many were new.
 */
export function insertUsageRecords(db: Executor, records: UsageRecordsTable[], batchSize = 500): Promise<number> {
  return inTransaction(db, async (trx) => {
    let inserted = 0;
    for (let i = 0; i < records.length; i += batchSize) {
      const batch = records.slice(i, i + batchSize);
      const rows = await trx
        .insertInto("usage_records")
        .values(batch)
        .onConflict((oc) => oc.column("run_id").doNothing())
        .returning("run_id")
        .execute();
      if (rows.length === 0) continue;
      inserted += rows.length;
      const fresh = new Set(rows.map((r) => r.run_id));
      // One row per key per statement: PostgreSQL refuses to update the same row twice in one upsert.
      const byKey = new Map<string, UsageDailyTable>();
      for (const record of batch) {
        if (!fresh.has(record.run_id)) continue;
        const delta = rollupDelta(record);
        const key = `${delta.org_id}\u0000${delta.day}\u0000${delta.agent_id}`;
        const acc = byKey.get(key);
        if (!acc) byKey.set(key, delta);
        else {
          acc.runs += 1;
          acc.tokens += delta.tokens;
          acc.input_tokens += delta.input_tokens;
          acc.output_tokens += delta.output_tokens;
          acc.tool_calls += delta.tool_calls;
          acc.cost += delta.cost;
        }
      }
      const deltas = [...byKey.values()];
      for (let j = 0; j < deltas.length; j += batchSize) await addToRollup(trx, deltas.slice(j, j + batchSize));
    }
    return inserted;
  });
}

const recordsWhere =
  (f: UsageFilter, before: number | null = null) =>
  (eb: ExpressionBuilder<Database, "usage_records">) => {
    const conditions = [eb("org_id", "=", f.orgId)];
    if (f.agentIds) conditions.push(eb("agent_id", "in", f.agentIds));
    if (f.from !== null) conditions.push(eb("created_at", ">=", f.from));
    const end = before === null ? f.to : f.to === null ? before : Math.min(before, f.to);
    if (end !== null) conditions.push(eb("created_at", "<", end));
    return eb.and(conditions);
  };

/** A slice of the filtered range, newest first, with how many records it holds. */
interface Segment {
  /** Exclusive upper bound (null = open). */
  end: number | null;
  count: number;
}

/**
 * Splits the range into whole UTC days (counted from the rollup, a few rows per day) and at most
 * two partial days at its edges (counted from the records through the (org_id, created_at) index).
 */
async function segments(db: Executor, f: UsageFilter): Promise<Segment[]> {
  const countRaw = async (from: number | null, to: number | null): Promise<number> => {
    const row = await db
      .selectFrom("usage_records")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where(recordsWhere({ ...f, from, to }))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  };
  const fullFrom = f.from === null ? null : ceilDay(f.from);
  const fullTo = f.to === null ? null : floorDay(f.to);
  if (fullFrom !== null && fullTo !== null && fullFrom >= fullTo) return [{ end: f.to, count: await countRaw(f.from, f.to) }];

  const [tail, days, head] = await Promise.all([
    f.to !== null && fullTo !== null && fullTo < f.to ? countRaw(fullTo, f.to) : Promise.resolve(null),
    db
      .selectFrom("usage_daily")
      .select((eb) => ["day", eb.fn.sum<number>("runs").as("runs")])
      .where((eb) => {
        const conditions = [eb("org_id", "=", f.orgId)];
        if (f.agentIds) conditions.push(eb("agent_id", "in", f.agentIds));
        if (fullFrom !== null) conditions.push(eb("day", ">=", fullFrom));
        if (fullTo !== null) conditions.push(eb("day", "<", fullTo));
        return eb.and(conditions);
      })
      .groupBy("day")
      .orderBy("day", "desc")
      .execute(),
    f.from !== null && fullFrom !== null && f.from < fullFrom ? countRaw(f.from, fullFrom) : Promise.resolve(null),
  ]);
  const out: Segment[] = [];
  if (tail !== null) out.push({ end: f.to, count: tail });
  for (const d of days) out.push({ end: Number(d.day) + DAY_MS, count: Number(d.runs) });
  if (head !== null) out.push({ end: fullFrom, count: head });
  return out;
}

/**
 * One page of records, newest first, and the total. The total and the position of a deep page
 * come from the rollup, so the OFFSET only ever skips rows within one day: page 5,000 costs about
 * what page 1 does. Skipped rows are walked in the covering (org_id, created_at, id) index.
 */
export async function listUsage(
  db: Executor,
  f: UsageFilter,
  page: number,
  limit: number,
): Promise<{ data: UsageRecordsTable[]; total: number }> {
  const segs = await segments(db, f);
  const total = segs.reduce((n, s) => n + s.count, 0);
  const offset = (page - 1) * limit;
  if (offset >= total) return { data: [], total };
  let before = 0;
  let seg = segs[0];
  for (const s of segs) {
    seg = s;
    if (before + s.count > offset) break;
    before += s.count;
  }
  const where = recordsWhere(f, seg.end);
  const data = await db
    .selectFrom("usage_records")
    .selectAll()
    .where("id", "in", (eb) =>
      eb
        .selectFrom("usage_records")
        .select("id")
        .where(where)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit)
        .offset(offset - before),
    )
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  return { data, total };
}

/** The newest `n` records of the filter. */
export function recentUsage(db: Executor, f: UsageFilter, n: number): Promise<UsageRecordsTable[]> {
  return db
    .selectFrom("usage_records")
    .selectAll()
    .where(recordsWhere(f))
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(n)
    .execute();
}

/** Aggregates of a range: totals per agent and per UTC day. */
export interface UsageAggregates {
  byAgent: Map<string, UsageTotals>;
  byDay: Map<number, UsageTotals>;
}

/** Sums the range per agent and per day: whole days from the rollup, partial edge days from the records. */
export async function aggregateUsage(db: Executor, f: UsageFilter): Promise<UsageAggregates> {
  const byAgent = new Map<string, UsageTotals>();
  const byDay = new Map<number, UsageTotals>();
  const add = (agentId: string, day: number, t: UsageTotals) => {
    const a = byAgent.get(agentId) ?? emptyTotals();
    addTotals(a, t);
    byAgent.set(agentId, a);
    const d = byDay.get(day) ?? emptyTotals();
    addTotals(d, t);
    byDay.set(day, d);
  };
  const raw = (from: number | null, to: number | null) =>
    db
      .selectFrom("usage_records")
      .select((eb) => [
        "agent_id",
        eb.fn.countAll<number>().as("runs"),
        eb.fn.sum<number>("tokens").as("tokens"),
        eb.fn.sum<number>("input_tokens").as("input_tokens"),
        eb.fn.sum<number>("output_tokens").as("output_tokens"),
        eb.fn.sum<number>("tool_calls").as("tool_calls"),
        eb.fn.sum<number>("cost").as("cost"),
      ])
      .where(recordsWhere({ ...f, from, to }))
      .groupBy("agent_id")
      .execute();
  const totalsOf = (r: {
    runs: number;
    tokens: number;
    input_tokens: number;
    output_tokens: number;
    tool_calls: number;
    cost: number;
  }) => ({
    runs: Number(r.runs),
    tokens: Number(r.tokens),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cost: Number(r.cost),
    toolCalls: Number(r.tool_calls),
  });

  const fullFrom = f.from === null ? null : ceilDay(f.from);
  const fullTo = f.to === null ? null : floorDay(f.to);
  if (fullFrom !== null && fullTo !== null && fullFrom >= fullTo) {
    const day = floorDay(f.from ?? 0);
    for (const r of await raw(f.from, f.to)) add(r.agent_id, day, totalsOf(r));
    return { byAgent, byDay };
  }
  const [tail, days, head] = await Promise.all([
    f.to !== null && fullTo !== null && fullTo < f.to ? raw(fullTo, f.to) : Promise.resolve([]),
    db
      .selectFrom("usage_daily")
      .selectAll()
      .where((eb) => {
        const conditions = [eb("org_id", "=", f.orgId)];
        if (f.agentIds) conditions.push(eb("agent_id", "in", f.agentIds));
        if (fullFrom !== null) conditions.push(eb("day", ">=", fullFrom));
        if (fullTo !== null) conditions.push(eb("day", "<", fullTo));
        return eb.and(conditions);
      })
      .execute(),
    f.from !== null && fullFrom !== null && f.from < fullFrom ? raw(f.from, fullFrom) : Promise.resolve([]),
  ]);
  for (const r of tail) add(r.agent_id, fullTo as number, totalsOf(r));
  for (const r of days) add(r.agent_id, Number(r.day), totalsOf(r));
  for (const r of head) add(r.agent_id, floorDay(f.from as number), totalsOf(r));
  return { byAgent, byDay };
}

/**
 * Display names of agents: the current name of agents that exist, else the name their latest
 * usage record carries (usage outlives deleted agents).
 */
export async function agentNames(db: Executor, orgId: string, agentIds: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (agentIds.length === 0) return names;
  const live = await db.selectFrom("agents").select(["id", "name"]).where("org_id", "=", orgId).where("id", "in", agentIds).execute();
  for (const a of live) names.set(a.id, a.name);
  await Promise.all(
    agentIds
      .filter((id) => !names.has(id))
      .map(async (id) => {
        const row = await db
          .selectFrom("usage_records")
          .select("agent_name")
          .where("org_id", "=", orgId)
          .where("agent_id", "=", id)
          .orderBy("created_at", "desc")
          .limit(1)
          .executeTakeFirst();
        names.set(id, row?.agent_name ?? id);
      }),
  );
  return names;
}
