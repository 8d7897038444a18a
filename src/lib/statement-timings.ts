/**
 * Time spent per SQL statement, by its text (OPENPAW_DIAGNOSTICS_SQL=true, reported by
 * `GET /internal/diagnostics`): which statements a run's cost is made of, measured inside the
 * gateway where a CPU profile only shows "the database". Fed by Kysely's `log` hook, so every
 * statement counts, `begin` and `commit` included (each transaction's own line: a commit's cost is
 * the pages its transaction wrote). On SQLite a statement's time is CPU on the event loop's
 * thread; on PostgreSQL it is the round trip.
 *
 * Bounded: at most MAX_TEXTS distinct texts are kept (a query whose text varies with its input,
 * such as an `in (…)` list, would otherwise grow it without end); the rest count as one line.
 *
 * @example
 * const timings = new StatementTimings();
 * const db = openDatabase(url, { statementTimings: timings });
 * // ... load ...
 * timings.snapshot(true).top[0]; // { sql: "commit", count: 3012, totalMs: 401.2, meanUs: 133.2 }
 */
export interface StatementTiming {
  /** The statement's text, up to TEXT_CHARS characters. */
  sql: string;
  count: number;
  totalMs: number;
  meanUs: number;
}

export interface StatementTimingsSnapshot {
  /** Statements executed in the window. */
  count: number;
  totalMs: number;
  /** The TOP statements by total time, largest first. */
  top: StatementTiming[];
}

const MAX_TEXTS = 1_000;
const TEXT_CHARS = 200;
const TOP = 30;
/** Where statements beyond MAX_TEXTS distinct texts are counted. */
export const OTHER_STATEMENTS = "(other statements)";

export class StatementTimings {
  private readonly byText = new Map<string, { count: number; totalMs: number }>();

  record(sql: string, ms: number): void {
    let entry = this.byText.get(sql);
    if (!entry) {
      const key = this.byText.size < MAX_TEXTS ? sql : OTHER_STATEMENTS;
      entry = this.byText.get(key) ?? { count: 0, totalMs: 0 };
      this.byText.set(key, entry);
    }
    entry.count++;
    entry.totalMs += ms;
  }

  /** The window's figures; `reset` starts a new window. */
  snapshot(reset = false): StatementTimingsSnapshot {
    let count = 0;
    let totalMs = 0;
    const all: StatementTiming[] = [];
    for (const [sql, entry] of this.byText) {
      count += entry.count;
      totalMs += entry.totalMs;
      all.push({
        sql: sql.length > TEXT_CHARS ? `${sql.slice(0, TEXT_CHARS - 1)}…` : sql,
        count: entry.count,
        totalMs: round(entry.totalMs, 3),
        meanUs: round((entry.totalMs * 1000) / entry.count, 1),
      });
    }
    if (reset) this.byText.clear();
    all.sort((a, b) => b.totalMs - a.totalMs);
    return { count, totalMs: round(totalMs, 3), top: all.slice(0, TOP) };
  }
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
