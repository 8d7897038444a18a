import { sql } from "kysely";
import { describe, expect, it } from "vitest";
// Loads every route and service, and with them every module that prepares its queries.
import "../app";
import "../services";
import { openDatabase } from "./index";
import { migrateToLatest } from "./migrations";
import { compileEveryPrepared } from "./prepared";
import { listAgents } from "../features/agents/repository";

/** Tables whose rows an org adds with every run or request, without a cap. */
const GROWING = new Set([
  "runs",
  "run_events",
  "messages",
  "conversations",
  "memory_history",
  "usage_records",
  "webhook_deliveries",
  "run_approvals",
  "openai_responses",
  "idempotency_requests",
  "schedule_ticks",
  "usage_daily",
  "sessions",
]);

describe("the prepared (hot) queries", () => {
  it("are each answered from an index in the order they ask for: no table scan, no sort", async () => {
    // They are the queries of every run and keyed request: a scan or a sort there costs more as
    // an org's data grows. Ad-hoc queries are not here (this file prepares none of its own).
    const db = openDatabase("sqlite::memory:");
    try {
      await migrateToLatest(db.kysely, db.dialect);
      // Prepared on first use (one per page size): use it once.
      await listAgents(db.kysely, "org_none", { agentIds: null, limit: 20, offset: 0 });
      const queries = compileEveryPrepared(db.kysely);
      expect(queries.length).toBeGreaterThanOrEqual(10);
      const plans = new Map<string, string[]>();
      for (const query of queries) {
        const plan = await db.kysely.executeQuery<{ detail: string }>({ ...query, sql: `explain query plan ${query.sql}` });
        plans.set(
          query.sql,
          plan.rows.map((r) => r.detail),
        );
      }
      const bad: string[] = [];
      for (const [query, steps] of plans) {
        // "SCAN 8-ROW VALUES CLAUSE" is a multi-row insert reading its own VALUES list, not a table.
        if (steps.some((step) => /^SCAN (?!\d+-ROW VALUES CLAUSE$)|TEMP B-TREE/.test(step))) bad.push(`${query}\n  ${steps.join(" | ")}`);
      }
      expect(bad).toEqual([]);
      // No search of a table that grows with use by the org alone while the query names more:
      // it reads every row the org ever had there and filters them (an org's queued-run count
      // read all its runs that way). A partial index (its own condition narrows it) is fine.
      const indexes = await sql<{ name: string }>`select name from sqlite_master where type = 'index' and sql like '% where %'`.execute(
        db.kysely,
      );
      const partial = new Set(indexes.rows.map((r) => r.name));
      const orgWide: string[] = [];
      for (const [query, steps] of plans) {
        if (!/"org_id" = \? and /.test(query)) continue;
        for (const step of steps) {
          const search = /^SEARCH (\w+) USING (?:COVERING )?INDEX (\w+) \(org_id=\?\)$/.exec(step);
          if (search && GROWING.has(search[1]!) && !partial.has(search[2]!)) orgWide.push(`${query}\n  ${step}`);
        }
      }
      expect(orgWide).toEqual([]);
      // A bound LIMIT makes SQLite compile the statement again at each execution (inline-limits.ts).
      expect(queries.filter((q) => /\blimit \?/i.test(q.sql)).map((q) => q.sql)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("count an org's queued runs from the queued runs alone, not from every run the org made", async () => {
    // Every background start counts them; through an org index the count grew with the org's history.
    const db = openDatabase("sqlite::memory:");
    try {
      await migrateToLatest(db.kysely, db.dialect);
      const counts = compileEveryPrepared(db.kysely).filter((q) => /count\(\*\)/.test(q.sql) && /"status" = 'queued'/.test(q.sql));
      expect(counts).toHaveLength(1);
      const plan = await db.kysely.executeQuery<{ detail: string }>({ ...counts[0]!, sql: `explain query plan ${counts[0]!.sql}` });
      expect(plan.rows.map((r) => r.detail)).toEqual([expect.stringMatching(/USING COVERING INDEX runs_org_queued_idx \(org_id=\?\)/)]);
    } finally {
      await db.close();
    }
  });
});
