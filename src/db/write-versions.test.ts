import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../../test/helpers/harness";
import { type Db, openDatabase } from ".";
import { migrateToLatest } from "./migrations";
import { compileEveryPrepared } from "./prepared";
import type { Database } from "./schema";
import { writeTarget } from "./write-versions";

// Compiles without a connection: only the SQL text is wanted.
const compiler = new Kysely<Database>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

describe("writeTarget (which table a statement writes, from its text)", () => {
  it("names the table of the builder's inserts, updates and deletes, and of hand-written SQL", () => {
    expect(writeTarget(compiler.insertInto("agents").values({ id: "x" } as never).compile().sql)).toEqual({ table: "agents" });
    expect(writeTarget(compiler.updateTable("orgs").set({ name: "n" }).where("id", "=", "o").compile().sql)).toEqual({ table: "orgs" });
    expect(writeTarget(compiler.deleteFrom("agent_skills").where("org_id", "=", "o").compile().sql)).toEqual({ table: "agent_skills" });
    expect(writeTarget(compiler.insertInto("skills").values({ id: "x" } as never).onConflict((oc) => oc.doNothing()).returningAll().compile().sql)).toEqual({
      table: "skills",
    });
    expect(writeTarget("INSERT OR REPLACE INTO Agents (id) VALUES (?)")).toEqual({ table: "agents" });
    expect(writeTarget("  replace into `skills` (id) values (?)")).toEqual({ table: "skills" });
    expect(writeTarget('update "main"."orgs" set name = ?')).toEqual({ table: "orgs" });
    expect(writeTarget("delete from [agents] where id = ?")).toEqual({ table: "agents" });
  });

  it("finds no write in reads and transaction control", () => {
    expect(writeTarget(compiler.selectFrom("agents").selectAll().compile().sql)).toBeNull();
    for (const text of ["select 1", "PRAGMA foreign_keys = ON", "begin", "commit", "rollback", "savepoint sp1", "release savepoint sp1", "explain query plan select 1"]) {
      expect(writeTarget(text)).toBeNull();
    }
  });

  it("counts what it does not recognise as a write of everything", () => {
    for (const text of ["with x as (select 1) delete from agents", "create table t (a)", "drop index i", "alter table agents add column c", "vacuum"]) {
      expect(writeTarget(text)).toBe("everything");
    }
  });
});

describe("every prepared query is classified as Kysely built it", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(); // loads every module, so every prepared query is registered
  });
  afterAll(() => h.close());

  it("a write names its table, a read none", () => {
    const queries = compileEveryPrepared(h.services.db.kysely);
    expect(queries.length).toBeGreaterThan(10);
    let writes = 0;
    for (const query of queries) {
      const node = query.query as { kind: string; into?: { table: { identifier: { name: string } } }; table?: { table: { identifier: { name: string } } }; from?: { froms: Array<{ table: { identifier: { name: string } } }> } };
      const expected =
        node.kind === "InsertQueryNode"
          ? node.into?.table.identifier.name
          : node.kind === "UpdateQueryNode"
            ? node.table?.table.identifier.name
            : node.kind === "DeleteQueryNode"
              ? node.from?.froms[0]?.table.identifier.name
              : undefined;
      if (node.kind === "SelectQueryNode") expect(writeTarget(query.sql), query.sql).toBeNull();
      else {
        writes++;
        expect(writeTarget(query.sql), query.sql).toEqual({ table: expected });
      }
    }
    expect(writes).toBeGreaterThan(3);
  });
});

describe("WriteVersions on an SQLite database", () => {
  let dir: string;
  let db: Db;
  const org = (id: string) => ({ id, name: id, plan: "free", plan_status: "active", created_at: 1, updated_at: 1 });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "openpaw-versions-"));
    db = openDatabase(`sqlite:${join(dir, "v.db")}`);
    await migrateToLatest(db.kysely, db.dialect);
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("moves a read's version on a write of its table, of a foreign-key parent, or by raw SQL, and not on other tables", async () => {
    let load = 0;
    const read = () =>
      db.reads.get("org_v1", "agents", ["agents"], async () => {
        load++;
        return db.kysely.selectFrom("agents").select("id").where("org_id", "=", "org_v1").execute();
      });
    await db.kysely.insertInto("orgs").values(org("org_v1")).execute();
    await read();
    await read();
    expect(load).toBe(1);
    // A table agents does not depend on.
    await db.kysely.insertInto("stripe_events").values({ id: "evt_1", type: "t", received_at: 1 } as never).execute();
    await read();
    expect(load).toBe(1);
    // Its parent (deleting an org deletes its agents by cascade, with no statement naming agents).
    await db.kysely.updateTable("orgs").set({ name: "renamed" }).where("id", "=", "org_v1").execute();
    await read();
    expect(load).toBe(2);
    await sql`update agents set name = name where org_id = ${"org_v1"}`.execute(db.kysely);
    await read();
    expect(load).toBe(3);
    // A write rolled back still counts (it may have been seen by nothing, but nothing is lost by reading again).
    await db.kysely
      .transaction()
      .execute(async (trx) => {
        await trx.deleteFrom("agents").where("org_id", "=", "nobody").execute();
        throw new Error("roll back");
      })
      .catch(() => {});
    await read();
    expect(load).toBe(4);
  });
});
