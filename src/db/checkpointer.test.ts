import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { BACKSTOP_CHECKPOINT_PAGES } from "./checkpointer";
import { openDatabase } from "./index";

const size = (path: string) => statSync(path).size;

describe("WAL checkpoints of the embedded database", () => {
  const base = mkdtempSync(join(tmpdir(), "openpaw-checkpoint-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("copy committed pages into the database file from the worker, not in the gateway's commits", async () => {
    const path = join(base, "openpaw.db");
    const db = openDatabase(`sqlite:${path}`);
    try {
      // The gateway's connection would checkpoint only at the backstop, far above these ~1,500 pages.
      const pages = (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db.kysely)).rows[0];
      expect(pages.wal_autocheckpoint).toBe(BACKSTOP_CHECKPOINT_PAGES);
      await sql`create table t (x blob)`.execute(db.kysely);
      await db.kysely.transaction().execute(async (trx) => {
        for (let i = 0; i < 1500; i++) await sql`insert into t values (randomblob(4000))`.execute(trx);
      });
      expect(size(`${path}-wal`)).toBeGreaterThan(1500 * 4000);
      // Only a checkpoint writes table pages into the database file; the worker's comes within its interval.
      const deadline = Date.now() + 10_000;
      while (size(path) < 1500 * 4000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(size(path)).toBeGreaterThan(1500 * 4000);
      // What was checkpointed is still what the gateway reads.
      const count = (await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely)).rows[0];
      expect(count.n).toBe(1500);
    } finally {
      await db.close();
    }
  });

  it("stops its worker when the database closes", async () => {
    const db = openDatabase(`sqlite:${join(base, "closing.db")}`);
    await sql`select 1`.execute(db.kysely);
    await expect(db.close()).resolves.toBeUndefined();
  });

  it("keeps the process alive until it has stopped, so what follows the close still runs", async () => {
    // A process whose only work left is closing the database: it must reach the line after close.
    const script = `
      import { openDatabase } from "./src/db/index.ts";
      const db = openDatabase(${JSON.stringify(`sqlite:${join(base, "exiting.db")}`)});
      await db.kysely.selectNoFrom((eb) => eb.lit(1).as("x")).execute();
      await db.close();
      console.log("after close");
      process.exit(7);
    `;
    const child = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script]).catch((e) => e);
    expect(child.stdout).toContain("after close");
    expect(child.code).toBe(7);
  }, 30_000);
});
