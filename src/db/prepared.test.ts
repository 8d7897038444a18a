import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../../test/helpers/harness";
import { prepare, preparedInsert } from "./prepared";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const orgRow = (id: string, name: string) => ({
  id,
  name,
  plan: "free",
  created_at: 1,
  updated_at: 2,
});

describe("prepared queries (compiled once per dialect)", () => {
  it("fill their placeholders from each call's arguments and keep the builder's constants", async () => {
    const db = h.services.db.kysely;
    const insertOrg = preparedInsert("orgs");
    await insertOrg(db, orgRow("org_prepA", "Alpha") as never);
    await insertOrg(db, orgRow("org_prepB", "Beta") as never);
    const byIdAndPlan = prepare<[string], { name: string }>((k, p) => k.selectFrom("orgs").select("name").where("id", "=", p(0)).where("plan", "=", "free"));
    expect(await byIdAndPlan.first(db, ["org_prepA"])).toEqual({ name: "Alpha" });
    expect(await byIdAndPlan.first(db, ["org_prepB"])).toEqual({ name: "Beta" });
    expect(await byIdAndPlan.first(db, ["org_none"])).toBeUndefined();
    const rename = prepare<[string, string], never>((k, p) => k.updateTable("orgs").set({ name: p(0) }).where("id", "=", p(1)));
    expect(await rename.affected(db, ["Gamma", "org_prepB"])).toBe(1);
    expect(await rename.affected(db, ["Delta", "org_none"])).toBe(0);
    expect(await byIdAndPlan.first(db, ["org_prepB"])).toEqual({ name: "Gamma" });
  });

  it("run inside a transaction, which sees its own writes and rolls them back", async () => {
    const db = h.services.db.kysely;
    const count = prepare<[string], { n: number }>((k, p) => k.selectFrom("orgs").select((eb) => eb.fn.countAll<number>().as("n")).where("name", "=", p(0)));
    const insertOrg = preparedInsert("orgs");
    await db
      .transaction()
      .execute(async (trx) => {
        await insertOrg(trx, orgRow("org_prepT", "InTransaction") as never);
        expect(Number((await count.first(trx, ["InTransaction"]))?.n)).toBe(1);
        throw new Error("roll back");
      })
      .catch(() => {});
    expect(Number((await count.first(db, ["InTransaction"]))?.n)).toBe(0);
  });

  it("refuse a wrong number of arguments and undefined arguments instead of binding them", async () => {
    const db = h.services.db.kysely;
    const byId = prepare<[string], unknown>((k, p) => k.selectFrom("orgs").selectAll().where("id", "=", p(0)));
    await expect(byId.first(db, [] as unknown as [string])).rejects.toThrow(/takes 1 arguments/);
    await expect(byId.first(db, [undefined as unknown as string])).rejects.toThrow(/undefined/);
  });

  it("an insert leaves out the columns a row has as undefined, like the builder", async () => {
    const db = h.services.db.kysely;
    const insertOrg = preparedInsert("orgs");
    await insertOrg(db, { ...orgRow("org_prepU", "Undefined"), plan_status: undefined } as never);
    await insertOrg(db, { ...orgRow("org_prepV", "Defined"), plan_status: "active" } as never);
    // The column's default applies, as it would through insertInto(...).values(row).
    const rows = await db.selectFrom("orgs").select(["id", "plan_status"]).where("id", "in", ["org_prepU", "org_prepV"]).orderBy("id").execute();
    expect(rows).toEqual([
      { id: "org_prepU", plan_status: "none" },
      { id: "org_prepV", plan_status: "active" },
    ]);
  });
});
