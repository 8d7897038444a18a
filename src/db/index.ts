import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, type KyselyConfig, PostgresDialect, SqliteDialect, type SqliteDatabase, type SqliteStatement, sql } from "kysely";
import pg from "pg";
import type { StatementTimings } from "../lib/statement-timings";
import { BACKSTOP_CHECKPOINT_PAGES, startCheckpointer } from "./checkpointer";
import { InlineLimitsPlugin } from "./inline-limits";
import { ReadCache } from "./read-cache";
import type { Database } from "./schema";
import { WriteVersions, writeTarget } from "./write-versions";

export type Dialect = "sqlite" | "postgres";

/** The database handle the rest of the app receives: Kysely plus which dialect it speaks. */
export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  /** Connections of the pool (PostgreSQL) for metrics; SQLite has one connection and no pool. */
  poolStats(): { size: number; total: number; idle: number; waiting: number } | null;
  /** Where every statement's time is recorded, when opened with `statementTimings`. */
  statementTimings: StatementTimings | null;
  /** Read-mostly query results kept until a table they read is written (src/db/read-cache.ts; SQLite only). */
  reads: ReadCache;
  close(): Promise<void>;
}

/**
 * Kysely prepares every statement anew; a prepared statement holds native memory that only a
 * full garbage collection frees, so under load the process grows and time goes to re-parsing the
 * same SQL. Statements are reused by their text instead (better-sqlite3 runs one at a time, and
 * we never stream, so a cached statement is never busy), keeping the most recent 500.
 *
 * Each statement is classified by its text once, when prepared: one that writes tells `versions`
 * which table, every time it runs (src/db/write-versions.ts).
 */
function withStatementCache(sqlite: SQLite.Database, versions: WriteVersions, size = 500): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    prepare(text) {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text);
      } else {
        statement = counted(sqlite.prepare(text) as unknown as SqliteStatement, versions, writeTarget(text));
        if (cache.size >= size) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, statement);
      return statement;
    },
    close: () => sqlite.close(),
  };
}

/** A writing statement that reports each execution to `versions`; a reading one as it is. */
function counted(statement: SqliteStatement, versions: WriteVersions, target: ReturnType<typeof writeTarget>): SqliteStatement {
  if (target === null) return statement;
  return {
    reader: statement.reader,
    all(parameters) {
      versions.wrote(target);
      return statement.all(parameters);
    },
    run(parameters) {
      versions.wrote(target);
      return statement.run(parameters);
    },
    iterate(parameters) {
      versions.wrote(target);
      return statement.iterate(parameters);
    },
  };
}

/**
 * The write counters of one connection. Another connection to the file (a second handle, the
 * operator's command in another process) is not seen: its writes show in cached reads once their
 * entries expire (src/db/read-cache.ts).
 */
function writeVersionsOf(sqlite: SQLite.Database): WriteVersions {
  return new WriteVersions(
    () =>
      sqlite
        .prepare(`select m.name as child, f."table" as parent from sqlite_master m join pragma_foreign_key_list(m.name) f where m.type = 'table'`)
        .all() as Array<{ child: string; parent: string }>,
  );
}

/**
 * The database file holds every org's data: readable by the gateway's user only. Created 0600
 * before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), in a
 * directory created 0700; an existing file (and its -wal/-shm) that the gateway owns is tightened.
 */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const stat = statSync(file);
      if (stat.uid === process.getuid?.() && (stat.mode & 0o077) !== 0) chmodSync(file, stat.mode & 0o700);
    } catch {
      // -wal and -shm exist only while (or after) the database is open
    }
  }
}

/** pg returns int8 and numeric as strings; our epoch-ms and counters fit a double exactly. */
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

/**
 * Opens the database named by a `DATABASE_URL`: `sqlite:<path>` (WAL, foreign keys, busy
 * timeout) or `postgres://...` (a pool; `?options=-c search_path=...` selects a schema).
 * With `statementTimings`, every statement's time is recorded there (diagnostics only: Kysely's
 * log hook wraps each statement in two more awaits).
 */
export function openDatabase(url: string, options: { poolSize?: number; statementTimings?: StatementTimings } = {}): Db {
  const timings = options.statementTimings;
  const log: KyselyConfig["log"] = timings
    ? (event) => timings.record(event.query.sql, event.queryDurationMillis)
    : undefined;
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path !== ":memory:") createPrivately(path);
    const sqlite = new SQLite(path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
    // Checkpoints off the event loop's thread (see checkpointer.ts); an in-memory database has no WAL.
    const checkpointer = path === ":memory:" ? null : startCheckpointer(path, { intervalMs: 250 });
    if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    const versions = writeVersionsOf(sqlite);
    const kysely = new Kysely<Database>({
      dialect: new SqliteDialect({ database: withStatementCache(sqlite, versions) }),
      // A bound LIMIT makes SQLite compile the statement again at every execution (inline-limits.ts).
      plugins: [new InlineLimitsPlugin()],
      log,
    });
    return {
      kysely,
      dialect: "sqlite",
      ping: async () => {
        await sql`select 1`.execute(kysely);
      },
      poolStats: () => null,
      statementTimings: timings ?? null,
      reads: new ReadCache(versions),
      close: async () => {
        await kysely.destroy();
        await checkpointer?.stop();
      },
    };
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    types: pgTypes,
    connectionTimeoutMillis: 5_000,
  });
  // A client losing its server (restart, failover) must not crash the process: idle clients
  // report it on the pool, checked-out ones on themselves; the failed query already rejects,
  // and the pool replaces the broken client.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
  return {
    kysely,
    dialect: "postgres",
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    poolStats: () => ({ size: options.poolSize ?? 10, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    statementTimings: timings ?? null,
    reads: new ReadCache(null),
    close: () => kysely.destroy(),
  };
}

/** True when a database error is a unique-constraint violation (either dialect). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === "23505" || e?.code === "SQLITE_CONSTRAINT_UNIQUE" || e?.code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/**
 * True for a foreign-key violation: a row the statement refers to (an org, an agent, a
 * conversation) was deleted while the request was under way.
 */
export function isForeignKeyViolation(error: unknown): boolean {
  const e = error as { code?: string };
  return e?.code === "23503" || e?.code === "SQLITE_CONSTRAINT_FOREIGNKEY";
}

/** True when the error means the database itself is unreachable (connection refused, shutting down). */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  const code = e?.code ?? "";
  return (
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "08006", "08001", "08003"].includes(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e?.message ?? "")
  );
}
