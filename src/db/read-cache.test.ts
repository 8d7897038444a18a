import { describe, expect, it } from "vitest";
import { ReadCache } from "./read-cache";
import { WriteVersions } from "./write-versions";

// agents → orgs, as in the schema.
const versions = () => new WriteVersions(() => [{ child: "agents", parent: "orgs" }]);

describe("ReadCache", () => {
  it("answers from the cache until a table the read depends on is written", async () => {
    const v = versions();
    const cache = new ReadCache(v);
    let loads = 0;
    const read = () => cache.get("org_a", "k", ["agents"], async () => ({ n: ++loads }));
    expect(await read()).toEqual({ n: 1 });
    expect(await read()).toEqual({ n: 1 });
    v.wrote({ table: "runs" });
    expect(await read()).toEqual({ n: 1 });
    v.wrote({ table: "agents" });
    expect(await read()).toEqual({ n: 2 });
    v.wrote({ table: "orgs" }); // a parent: its deletes cascade into agents
    expect(await read()).toEqual({ n: 3 });
    v.wrote("everything");
    expect(await read()).toEqual({ n: 4 });
  });

  it("does not keep an answer read while a write happened: it may be from before the write", async () => {
    const v = versions();
    const cache = new ReadCache(v);
    let loads = 0;
    const first = await cache.get("org_a", "k", ["agents"], async () => {
      v.wrote({ table: "agents" }); // lands between the read's start and its end
      return ++loads;
    });
    expect(first).toBe(1);
    expect(await cache.get("org_a", "k", ["agents"], async () => ++loads)).toBe(2);
    expect(await cache.get("org_a", "k", ["agents"], async () => ++loads)).toBe(2);
  });

  it("keeps orgs apart: the same key of another org is read for that org", async () => {
    const cache = new ReadCache(versions());
    expect(await cache.get("org_a", "agents", ["agents"], async () => ["a's"])).toEqual(["a's"]);
    expect(await cache.get("org_b", "agents", ["agents"], async () => ["b's"])).toEqual(["b's"]);
    expect(await cache.get("org_a", "agents", ["agents"], async () => ["not read"])).toEqual(["a's"]);
  });

  it("reads again after ttlMs (a write of another process), and keeps at most maxEntries", async () => {
    let now = 0;
    const cache = new ReadCache(versions(), { ttlMs: 1_000, maxEntries: 2, now: () => now });
    let loads = 0;
    await cache.get("org_a", "k", ["agents"], async () => ++loads);
    now = 999;
    expect(await cache.get("org_a", "k", ["agents"], async () => ++loads)).toBe(1);
    now = 1_000;
    expect(await cache.get("org_a", "k", ["agents"], async () => ++loads)).toBe(2);
    await cache.get("org_b", "k", ["agents"], async () => 0);
    await cache.get("org_c", "k", ["agents"], async () => 0);
    expect(cache.size).toBe(2);
    expect(await cache.get("org_a", "k", ["agents"], async () => ++loads)).toBe(3); // the oldest went
  });

  it("freezes what it keeps, so no caller can change another's answer", async () => {
    const cache = new ReadCache(versions());
    const rows = await cache.get("org_a", "k", ["agents"], async () => [{ id: "ag_1", tags: ["x"] }]);
    expect(() => rows.push({ id: "ag_2", tags: [] })).toThrow(TypeError);
    expect(() => {
      (rows[0] as { id: string }).id = "changed";
    }).toThrow(TypeError);
    expect(() => (rows[0] as { tags: string[] }).tags.push("y")).toThrow(TypeError);
  });

  it("without versions (PostgreSQL: other replicas write too) reads every time", async () => {
    const cache = new ReadCache(null);
    let loads = 0;
    await cache.get("org_a", "k", ["agents"], async () => ++loads);
    await cache.get("org_a", "k", ["agents"], async () => ++loads);
    expect(loads).toBe(2);
    expect(cache.size).toBe(0);
  });
});
