import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../db";
import { OTHER_STATEMENTS, StatementTimings } from "./statement-timings";

describe("statement timings", () => {
  it("sums time per statement text, costliest first, and starts a new window on reset", () => {
    const timings = new StatementTimings();
    timings.record("commit", 0.2);
    timings.record("select 1", 0.05);
    timings.record("commit", 0.1);
    const window = timings.snapshot(true);
    expect(window.count).toBe(3);
    expect(window.totalMs).toBeCloseTo(0.35, 6);
    expect(window.top.map((t) => [t.sql, t.count])).toEqual([
      ["commit", 2],
      ["select 1", 1],
    ]);
    expect(window.top[0].meanUs).toBeCloseTo(150, 1);
    expect(timings.snapshot()).toEqual({ count: 0, totalMs: 0, top: [] });
  });

  it("keeps at most 1,000 texts (the rest count as one line) and shortens long ones", () => {
    const timings = new StatementTimings();
    for (let i = 0; i < 1_500; i++) timings.record(`select * from t where id in (${"?, ".repeat(i)}?)`, 1);
    const window = timings.snapshot();
    expect(window.count).toBe(1_500);
    const other = window.top.find((t) => t.sql === OTHER_STATEMENTS);
    expect(other?.count).toBe(500); // the first 1,000 distinct texts each a line, then one line for the rest
    expect(window.top.length).toBe(30);
    expect(Math.max(...window.top.map((t) => t.sql.length))).toBeLessThanOrEqual(200);
  });

  it("is fed every statement of a database opened with it, a transaction's begin and commit included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openpaw-timings-"));
    const timings = new StatementTimings();
    const db = openDatabase(`sqlite:${join(dir, "t.db")}`, { statementTimings: timings });
    try {
      expect(db.statementTimings).toBe(timings);
      await sql`create table t (id integer primary key)`.execute(db.kysely);
      timings.snapshot(true);
      await db.kysely.transaction().execute(async (trx) => {
        await sql`insert into t values (1)`.execute(trx);
      });
      await sql`select * from t`.execute(db.kysely);
      const texts = timings.snapshot().top.map((t) => t.sql).sort();
      expect(texts).toEqual(["begin", "commit", "insert into t values (1)", "select * from t"]);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is off unless asked for", async () => {
    const db = openDatabase("sqlite::memory:");
    try {
      expect(db.statementTimings).toBeNull();
    } finally {
      await db.close();
    }
  });
});
