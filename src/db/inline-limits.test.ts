import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./index";
import { prepare } from "./prepared";

describe("LIMIT on SQLite", () => {
  const db = openDatabase("sqlite::memory:");

  it("is written into the SQL, while the offset and everything else stay bound", () => {
    const query = db.kysely.selectFrom("agents").selectAll().where("org_id", "=", "org_a").limit(20).offset(40).compile();
    expect(query.sql).toMatch(/ limit 20 offset \?$/);
    expect(query.parameters).toEqual(["org_a", 40]);
  });

  it("stays bound when it is not a whole number (a prepared query's placeholder, or a bad value SQLite refuses)", async () => {
    const byPlaceholder = prepare<[number], { n: number }>((k, p) => k.selectNoFrom((eb) => eb.lit(1).as("n")).limit(p(0)));
    expect(await byPlaceholder.rows(db.kysely, [1])).toEqual([{ n: 1 }]);
    const fractional = db.kysely.selectFrom("agents").selectAll().limit(1.5).compile();
    expect(fractional.sql).toMatch(/ limit \?$/);
  });

  it("answers as before: the literal limit limits", async () => {
    const rows = await db.kysely
      .selectNoFrom(sql<number>`1`.as("n"))
      .unionAll(db.kysely.selectNoFrom(sql<number>`2`.as("n")))
      .limit(1)
      .execute();
    expect(rows).toHaveLength(1);
    await db.close();
  });
});
