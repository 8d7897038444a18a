import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "./index";

const mode = (path: string) => statSync(path).mode & 0o777;

describe("the SQLite file's permissions", () => {
  const base = mkdtempSync(join(tmpdir(), "openpaw-db-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("creates the directory 0700 and the database, its WAL and shared memory 0600", async () => {
    const dir = join(base, "fresh", "data");
    const db = openDatabase(`sqlite:${join(dir, "openpaw.db")}`);
    try {
      await sql`create table t (x integer)`.execute(db.kysely);
      await sql`insert into t values (1)`.execute(db.kysely);
      expect(mode(dir)).toBe(0o700);
      for (const file of ["openpaw.db", "openpaw.db-wal", "openpaw.db-shm"]) expect([file, mode(join(dir, file))]).toEqual([file, 0o600]);
    } finally {
      await db.close();
    }
  });

  it("tightens a database file an older version created 0644", async () => {
    const path = join(base, "old.db");
    writeFileSync(path, "");
    chmodSync(path, 0o644);
    const db = openDatabase(`sqlite:${path}`);
    try {
      await sql`select 1`.execute(db.kysely);
      expect(mode(path)).toBe(0o600);
    } finally {
      await db.close();
    }
  });
});
