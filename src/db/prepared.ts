/**
 * Hot queries built and compiled once per dialect, executed with new parameters each time.
 * Kysely builds an immutable operation tree and compiles it to SQL for every execution: ~30 µs
 * of CPU per query here (a run makes ~25, a keyed GET 3), as much as SQLite's own work for most
 * of them. A prepared query is written with the same builder (one query codebase for both
 * dialects): its parameters are placeholders, `p(0)`, `p(1)`, … compiled into the SQL's bound
 * parameters, whose positions are then filled from the arguments at each call. Constants written
 * into the builder stay as they were compiled.
 *
 * Only for queries whose shape does not depend on the arguments (no `in` lists of varying length,
 * no optional columns): the SQL is fixed at the first call. An argument that is `undefined`
 * (which the builder would have left out of an insert) is refused rather than bound.
 */
import { type CompiledQuery, type Compilable, type Kysely, type QueryResult, type Transaction } from "kysely";
import type { Database } from "./schema";

type Executor = Kysely<Database> | Transaction<Database>;

const SLOT = Symbol("prepared parameter");
interface Slot {
  readonly [SLOT]: number;
}

/** The placeholder of argument `i`, typed as whatever the builder expects there. */
export type Placeholder = <T = never>(i: number) => T;

const placeholder: Placeholder = <T>(i: number) => ({ [SLOT]: i }) as unknown as T;

const isSlot = (value: unknown): value is Slot => typeof value === "object" && value !== null && SLOT in value;

interface Compiled<R> {
  query: CompiledQuery<R>;
  /** For each bound parameter: the argument index it takes, or -1 for a constant of the builder. */
  slots: number[];
  arity: number;
}

export interface PreparedQuery<A extends readonly unknown[], R> {
  /** Runs it with `args` in place of the placeholders, on `db` or a transaction. */
  execute(db: Executor, args: A): Promise<QueryResult<R>>;
  /** The rows it answers. */
  rows(db: Executor, args: A): Promise<R[]>;
  /** The first row, or undefined. */
  first(db: Executor, args: A): Promise<R | undefined>;
  /** Rows inserted, updated or deleted. */
  affected(db: Executor, args: A): Promise<number>;
}

type Build<R> = (db: Kysely<Database>, p: Placeholder) => Compilable<R>;

/** Every query prepared so far (each module prepares its own when first imported), for prepared.test.ts's plan check. */
const everyPrepared: Build<unknown>[] = [];

/**
 * The SQL of every prepared query of the modules loaded so far, compiled for `db`'s dialect, with
 * its parameters (a placeholder's value is null). prepared.test.ts asks SQLite how it would answer
 * each: these are the queries every run and keyed request makes, so none may scan a table or sort.
 */
export function compileEveryPrepared(db: Kysely<Database>): CompiledQuery<unknown>[] {
  return everyPrepared.map((build) => {
    const query = build(db, placeholder).compile();
    return { ...query, parameters: query.parameters.map((value) => (isSlot(value) ? null : value)) };
  });
}

/** A query prepared from `build`, whose arguments are the placeholders `p(0)`, `p(1)`, …. */
export function prepare<A extends readonly unknown[], R>(build: Build<R>): PreparedQuery<A, R> {
  everyPrepared.push(build);
  // Per dialect: the SQL differs (placeholders, quoting); a transaction has its database's adapter.
  const compiled = new Map<unknown, Compiled<R>>();
  const compiledFor = (db: Executor): Compiled<R> => {
    const adapter = db.getExecutor().adapter.constructor;
    let entry = compiled.get(adapter);
    if (!entry) {
      const query = build(db, placeholder).compile();
      const slots = query.parameters.map((value) => (isSlot(value) ? value[SLOT] : -1));
      entry = { query, slots, arity: Math.max(-1, ...slots) + 1 };
      compiled.set(adapter, entry);
    }
    return entry;
  };
  const execute = (db: Executor, args: A): Promise<QueryResult<R>> => {
    const { query, slots, arity } = compiledFor(db);
    if (args.length !== arity) throw new RangeError(`prepared query takes ${arity} arguments, got ${args.length}`);
    const parameters = slots.map((slot, i) => {
      if (slot < 0) return query.parameters[i];
      const value = args[slot];
      if (value === undefined) throw new TypeError(`argument ${slot} of a prepared query is undefined`);
      return value;
    });
    return db.executeQuery<R>({ ...query, parameters });
  };
  return {
    execute,
    rows: async (db, args) => (await execute(db, args)).rows,
    first: async (db, args) => (await execute(db, args)).rows[0],
    affected: async (db, args) => Number((await execute(db, args)).numAffectedRows ?? 0n),
  };
}

/**
 * Inserts of whole rows into `table`, prepared per set of columns the row defines (a column whose
 * value is `undefined` is left out, as the builder does): the first insert of each shape compiles.
 */
export function preparedInsert<T extends keyof Database & string>(table: T) {
  const byColumns = new Map<string, PreparedQuery<unknown[], unknown>>();
  return async (db: Executor, insert: Database[T]): Promise<void> => {
    const row = insert as unknown as Record<string, unknown>;
    const columns = Object.keys(row).filter((column) => row[column] !== undefined);
    const shape = columns.join(",");
    let query = byColumns.get(shape);
    if (!query) {
      query = prepare<unknown[], unknown>((k, p) => k.insertInto(table).values(Object.fromEntries(columns.map((column, i) => [column, p(i)])) as never));
      byColumns.set(shape, query);
    }
    await query.execute(
      db,
      columns.map((column) => row[column]),
    );
  };
}
