import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertAgentRow } from "../../../test/helpers/fixtures";
import { type Harness, createHarness, testDatabase } from "../../../test/helpers/harness";
import { newId } from "../../lib/ids";
import { MemoryFullError } from "../../runtime/memory";
import { PG_HISTORY_SEARCH_WINDOW, createMemoryStore, escapeLike, fts5Query, rebuildMemoryIndex, searchTerms } from "./store";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 12); // 2026-11-20

const insertAgent = (h: Harness, orgId: string) => insertAgentRow(h, orgId, "Memory test");

/** A small seeded generator (mulberry32), so a failing history can be generated again. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] };
}

/** Inserts HISTORY rows straight into the table, oldest first (rowid order is this order). */
async function insertHistory(h: Harness, orgId: string, agentId: string, entries: { content: string; createdAt: number }[]) {
  const rows = entries.map((e, i) => ({
    id: newId("mem"),
    org_id: orgId,
    agent_id: agentId,
    conversation_id: `conv_${i}`,
    content: e.content,
    created_at: e.createdAt,
  }));
  for (let i = 0; i < rows.length; i += 500)
    await h.services.db.kysely
      .insertInto("memory_history")
      .values(rows.slice(i, i + 500))
      .execute();
  return rows;
}

/** A clock that the test moves forward a day at a time. */
function clock(start = T0) {
  let t = start;
  return { now: () => t, advance: (days = 1) => (t += days * DAY) };
}

describe("memory store", () => {
  let h: Harness;
  let orgA: string;
  let orgB: string;
  beforeAll(async () => {
    h = await createHarness();
    orgA = (await h.signup({ orgName: "A" })).orgId;
    orgB = (await h.signup({ orgName: "B" })).orgId;
  });
  afterAll(() => h.close());

  it("extracts terms: lower-cased, split on non-alphanumerics, no short words or stopwords, distinct", () => {
    expect(searchTerms("What is the Deploy_target of PROJECT x? deploy!")).toEqual(["deploy", "target", "project"]);
    expect(searchTerms("Über straße 42")).toEqual(["über", "straße", "42"]);
    expect(searchTerms("  a I to ")).toEqual([]);
  });

  it("appends timestamped notes and lists them oldest first", async () => {
    const c = clock();
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA), { now: c.now });
    const first = await store.appendNote("  The user prefers metric units.  ");
    c.advance();
    await store.appendNote("Project codename is Falcon.");
    expect(first).toMatchObject({ content: "The user prefers metric units.", createdAt: T0 });
    expect(first.id).toMatch(/^mem_/);
    expect((await store.notes()).map((n) => [n.content, n.createdAt])).toEqual([
      ["The user prefers metric units.", T0],
      ["Project codename is Falcon.", T0 + DAY],
    ]);
  });

  it("refuses a note over maxNoteChars and a full memory with MemoryFullError, saving nothing", async () => {
    const c = clock();
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA), {
      now: c.now,
      maxNoteChars: 10,
      maxNotes: 2,
      maxNotesTotalChars: 15,
    });
    await expect(store.appendNote("x".repeat(11))).rejects.toThrow(/11 characters; the limit is 10/);
    await expect(store.appendNote("   ")).rejects.toBeInstanceOf(MemoryFullError);
    await store.appendNote("0123456789");
    c.advance();
    const overTotal = store.appendNote("abcdef");
    await expect(overTotal).rejects.toBeInstanceOf(MemoryFullError);
    await expect(overTotal).rejects.toThrow(/10 of 15 characters used; this note needs 6/);
    await store.appendNote("abcde");
    await expect(store.appendNote("z")).rejects.toThrow(/Memory is full \(2 of 2 notes\)/);
    expect((await store.notes()).map((n) => n.content)).toEqual(["0123456789", "abcde"]);
  });

  it("search ranks lines by distinct terms matched, then recency, prefixed with date and source", async () => {
    const c = clock();
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA), { now: c.now });
    await store.appendNote("Invoice total is paid monthly.");
    c.advance();
    await store.appendHistory("conv_1", "Talked about the weather.\nThe invoice for Acme was sent.\nAcme invoice is overdue.");
    c.advance();
    await store.appendNote("Acme prefers email.");
    c.advance();
    await store.appendNote("Unrelated: the cat is called Tom.");

    expect(await store.search("ACME invoice?")).toEqual([
      "[2026-11-21 history] The invoice for Acme was sent.",
      "[2026-11-21 history] Acme invoice is overdue.",
      "[2026-11-22 note] Acme prefers email.",
      "[2026-11-20 note] Invoice total is paid monthly.",
    ]);
    expect(await store.search("acme invoice", 1)).toEqual(["[2026-11-21 history] The invoice for Acme was sent."]);
    expect(await store.search("weather")).toEqual(["[2026-11-21 history] Talked about the weather."]);
    expect(await store.search("giraffe")).toEqual([]);
    // Only stopwords and short words: nothing to filter by, so all notes.
    expect(await store.search("")).toEqual([
      "[2026-11-20 note] Invoice total is paid monthly.",
      "[2026-11-22 note] Acme prefers email.",
      "[2026-11-23 note] Unrelated: the cat is called Tom.",
    ]);
    expect(await store.search("  the a ")).toHaveLength(3);
  });

  it("matches case-insensitively beyond ASCII on both databases", async () => {
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA));
    await store.appendNote("Lives on ÜBERWEG street.");
    await store.appendNote("Über alles.");
    // SQLite's lower() folds ASCII only: without the upper-case variants ÜBERWEG would be missed.
    expect((await store.search("über")).map((l) => l.slice(18)).sort()).toEqual(["Lives on ÜBERWEG street.", "Über alles."]);
    expect((await store.search("überweg")).map((l) => l.slice(18))).toEqual(["Lives on ÜBERWEG street."]);
  });

  it("treats % and _ literally in SQL patterns", async () => {
    expect(escapeLike("50%_a\\b")).toBe("50\\%\\_a\\\\b");
    const agentId = await insertAgent(h, orgA);
    const store = createMemoryStore(h.services.db.kysely, orgA, agentId);
    for (const text of ["snake_case", "snakeXcase", "100% sure", "1000 sure"]) await store.appendNote(text);
    const like = async (needle: string) =>
      (
        await h.services.db.kysely
          .selectFrom("memory_notes")
          .select("content")
          .where("agent_id", "=", agentId)
          .where(sql<boolean>`lower(content) like ${`%${escapeLike(needle)}%`} escape '\\'`)
          .orderBy("content")
          .execute()
      ).map((r) => r.content);
    expect(await like("e_c")).toEqual(["snake_case"]);
    expect(await like("0% s")).toEqual(["100% sure"]);
    // Through search, punctuation only separates terms: "100%" searches for "100".
    expect((await store.search("100%")).sort()).toEqual([expect.stringContaining("100% sure"), expect.stringContaining("1000 sure")]);
    expect(await store.search("%")).toHaveLength(4);
  });

  it("matchingHistory ranks history entries by terms matched then recency, ignores notes", async () => {
    const c = clock();
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA), { now: c.now });
    await store.appendNote("Deploy notes live in the wiki.");
    await store.appendHistory("conv_1", "Discussed the deploy pipeline.");
    c.advance();
    await store.appendHistory("conv_2", "Fixed the staging deploy pipeline.");
    c.advance();
    await store.appendHistory("conv_3", "Chose a staging server.");
    c.advance();
    await store.appendHistory("conv_4", "   ");
    const found = await store.matchingHistory("How is the staging deploy going?");
    expect(found.map((e) => e.conversationId)).toEqual(["conv_2", "conv_3", "conv_1"]);
    expect(found[0]).toMatchObject({ content: "Fixed the staging deploy pipeline.", createdAt: T0 + DAY });
    expect((await store.matchingHistory("staging deploy", 2)).map((e) => e.conversationId)).toEqual(["conv_2", "conv_3"]);
    expect(await store.matchingHistory("the of")).toEqual([]);
    expect(await store.matchingHistory("wiki")).toEqual([]);
  });

  it("matchingHistory with one term answers the newest matching entries, as many as there are up to the limit", async () => {
    const c = clock();
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA), { now: c.now });
    for (let i = 1; i <= 6; i++) {
      await store.appendHistory(`conv_${i}`, i % 2 ? `Rollout ${i} went fine.` : `Rollout ${i} was late.`);
      c.advance();
    }
    expect((await store.matchingHistory("rollout", 3)).map((e) => e.conversationId)).toEqual(["conv_6", "conv_5", "conv_4"]);
    expect((await store.matchingHistory("went", 10)).map((e) => e.conversationId)).toEqual(["conv_5", "conv_3", "conv_1"]);
    expect((await store.matchingHistory("late", 1)).map((e) => e.conversationId)).toEqual(["conv_6"]);
  });

  it("matchingHistory's shortcuts answer what the full ranking answers, on generated histories and queries", async () => {
    // Words chosen to make the index and the substring check disagree: `deploys` and `deployed`
    // match `deployment` by its first 6 characters but do not contain it; `redeploy` and
    // `prestaging` contain a term inside a word, which the index does not match; a few words are
    // common, a few rare. Timestamps repeat (ties broken by ids that are random) and sometimes go
    // backwards; some histories pass MAX_CONTEXT_CANDIDATES matching rows, so the full ranking
    // also reads its every-term set.
    const words = [
      "deploy",
      "deploys",
      "deployed",
      "deployment",
      "redeploy",
      "staging",
      "stage",
      "prestaging",
      "acme",
      "acmes",
      "invoice",
      "invoiced",
      "zephyr",
      "quasar",
      "falcon",
      "pipeline",
      "report",
      "weather",
    ];
    const queryWords = [
      "deploy",
      "deployment",
      "staging",
      "stage",
      "acme",
      "invoice",
      "invoiced",
      "zephyr",
      "quasar",
      "falcon",
      "pipeline",
      "nothing",
    ];
    const db = h.services.db.kysely;
    let compared = 0;
    for (let seed = 1; seed <= 14; seed++) {
      const r = random(seed);
      const agentId = await insertAgent(h, orgA);
      const size = [0, 3, 12, 40, 150, 260, 420][seed % 7];
      // Per history, how often each word appears: some histories are dense in a word, some sparse.
      const weight = new Map(words.map((w) => [w, r.pick([0.02, 0.1, 0.3, 0.6])]));
      let t = T0;
      const entries = Array.from({ length: size }, () => {
        const picked = words.filter((w) => r.next() < (weight.get(w) as number));
        t += r.pick([0, 0, 1, 1000, -500]);
        return { content: `Talked about ${picked.join(" ")} today.`.replace(r.next() < 0.2 ? /a/g : /^$/, "A"), createdAt: t };
      });
      await insertHistory(h, orgA, agentId, entries);
      const fast = createMemoryStore(db, orgA, agentId);
      const full = createMemoryStore(db, orgA, agentId, { fullRanking: true });
      for (let q = 0; q < 25; q++) {
        const terms = Array.from({ length: 1 + r.int(4) }, () => r.pick(queryWords));
        const limit = r.pick([1, 2, 5, 5, 5, 8]);
        const message = `What about ${terms.join(", ")}?`;
        const expected = await full.matchingHistory(message, limit);
        expect({ seed, message, limit, found: await fast.matchingHistory(message, limit) }).toEqual({
          seed,
          message,
          limit,
          found: expected,
        });
        compared++;
      }
    }
    expect(compared).toBe(14 * 25);
  });

  it("matchingHistory with several terms: the shortcut's tricky cases", async () => {
    const db = h.services.db.kysely;
    // Counts the rows the store reads, to see which path answered.
    let rowsRead = 0;
    const counting = db.withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        rowsRead += args.result.rows.length;
        return args.result;
      },
    });
    const check = async (agentId: string, message: string, limit: number, expected: string[]) => {
      const full = await createMemoryStore(db, orgA, agentId, { fullRanking: true }).matchingHistory(message, limit);
      rowsRead = 0;
      const fast = await createMemoryStore(counting, orgA, agentId).matchingHistory(message, limit);
      expect(fast).toEqual(full);
      expect(fast.map((e) => e.content)).toEqual(expected);
      return rowsRead;
    };
    const filler = (n: number, text: (i: number) => string) =>
      Array.from({ length: n }, (_, i) => ({ content: text(i), createdAt: T0 + i }));

    // Entries that contain every term: the newest `limit` of them are the answer, read without the
    // full ranking's second set.
    const plenty = await insertAgent(h, orgA);
    await insertHistory(
      h,
      orgA,
      plenty,
      filler(1000, (i) => (i % 2 ? `staging deploy ${i}` : `staging only ${i}`)),
    );
    const read = await check(plenty, "staging deploy", 3, ["staging deploy 999", "staging deploy 997", "staging deploy 995"]);
    // One set read: the newest 200 rows matching any term, not the 200 matching every term as well.
    expect(read).toBeLessThanOrEqual(200);

    // A newer entry contains a term inside a word (`redeploy`): the index matches it only by
    // `staging`, yet it scores every term and is newer than the rows matching every term in the index.
    const inside = await insertAgent(h, orgA);
    await insertHistory(h, orgA, inside, [
      ...filler(300, (i) => `staging deploy ${i}`),
      { content: "staging redeploy done", createdAt: T0 + 300 },
      { content: "staging again", createdAt: T0 + 301 },
    ]);
    await check(inside, "staging deploy", 3, ["staging redeploy done", "staging deploy 299", "staging deploy 298"]);

    // The newest entries the index matches by `deploy*` do not contain `deployment`: the older
    // entry that does ranks first, among hundreds of newer matches of some term.
    const prefix = await insertAgent(h, orgA);
    await insertHistory(h, orgA, prefix, [
      { content: "staging deployment planned", createdAt: T0 },
      ...filler(300, (i) => (i % 2 ? `staging deploys ${i}` : `staging only ${i}`)).map((e) => ({ ...e, createdAt: e.createdAt + 1 })),
    ]);
    await check(prefix, "staging deployment", 2, ["staging deployment planned", "staging deploys 299"]);
    await check(prefix, "staging deployment", 5, [
      "staging deployment planned",
      ...[299, 298, 297, 296].map((i) => `staging ${i % 2 ? "deploys" : "only"} ${i}`),
    ]);

    // A rare term next to a common one: the entries with both are old, thousands newer have the
    // common one only; too many to read, so the full ranking answers.
    const rare = await insertAgent(h, orgA);
    await insertHistory(h, orgA, rare, [
      { content: "zephyr staging one", createdAt: T0 },
      { content: "zephyr staging two", createdAt: T0 + 1 },
      ...filler(2000, (i) => `staging ${i}`),
    ]);
    await check(rare, "zephyr staging", 2, ["zephyr staging two", "zephyr staging one"]);

    // Letters beyond ASCII in another case than the message's: the substring check counts them,
    // and the newest such entry ranks first. (Where PostgreSQL's lower() folds ASCII only, the `C`
    // locale, `ÜbER` matches none of `über`, `ÜBER`, `Über`, and the entry is found through
    // `staging` alone, like `redeploy` on SQLite.)
    const cased = await insertAgent(h, orgA);
    await insertHistory(h, orgA, cased, [...filler(6, (i) => `über staging ${i}`), { content: "ÜbER staging newest", createdAt: T0 + 6 }]);
    await check(cased, "über staging", 3, ["ÜbER staging newest", "über staging 5", "über staging 4"]);

    // Equal timestamps everywhere: ties go the same way on both paths, whether the full
    // ranking's candidates are one set or two merged.
    const ties = await insertAgent(h, orgA);
    await insertHistory(h, orgA, ties, [
      ...filler(250, (i) => (i % 3 ? `acme ${i}` : `acme invoice ${i}`)).map((e) => ({ ...e, createdAt: T0 })),
      ...filler(10, (i) => `acme invoice late ${i}`).map((e) => ({ ...e, createdAt: T0 })),
    ]);
    const tied = (await createMemoryStore(db, orgA, ties, { fullRanking: true }).matchingHistory("acme invoice", 5)).map((e) => e.content);
    expect(tied).toHaveLength(5);
    await check(ties, "acme invoice", 5, tied);
  });

  it("matchingHistory searches the newest PG_HISTORY_SEARCH_WINDOW entries on PostgreSQL, all of them on SQLite, on both paths", async () => {
    const db = h.services.db.kysely;
    const agentId = await insertAgent(h, orgA);
    // The oldest five entries share a timestamp, so the window's edge falls among ties (broken by
    // the id, byte-wise): on PostgreSQL two of them are in the window.
    const rows = await insertHistory(h, orgA, agentId, [
      ...["zephyr staging a", "zephyr staging b", "zephyr staging c", "staging d", "staging e"].map((content) => ({
        content,
        createdAt: T0,
      })),
      ...Array.from({ length: PG_HISTORY_SEARCH_WINDOW - 2 }, (_, i) => ({ content: `staging ${i}`, createdAt: T0 + 1 + i })),
    ]);
    const tied = rows.slice(0, 5);
    const inWindow = testDatabase === "postgres" ? [...tied].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, 2) : [...tied].reverse();
    const zephyr = inWindow.filter((r) => r.content.startsWith("zephyr")).map((r) => r.content);
    const newest = Array.from({ length: 5 }, (_, i) => `staging ${PG_HISTORY_SEARCH_WINDOW - 3 - i}`);
    const expected = [...zephyr, ...newest].slice(0, 5);
    for (const fullRanking of [false, true]) {
      const store = createMemoryStore(db, orgA, agentId, { fullRanking });
      expect((await store.matchingHistory("zephyr staging", 5)).map((e) => e.content)).toEqual(expected);
      const older = (await store.matchingHistory("zephyr", 5)).map((e) => e.content);
      expect(older).toEqual(zephyr);
    }
  });

  it("searches all of HISTORY through the full-text index: the oldest entry is found among thousands", async () => {
    const agentId = await insertAgent(h, orgA);
    const other = await insertAgent(h, orgA);
    const rows = Array.from({ length: 6000 }, (_, i) => ({
      id: `mem_fts_${i}`,
      org_id: orgA,
      // Every third entry belongs to a sibling agent whose entries use the same words.
      agent_id: i % 3 === 2 ? other : agentId,
      conversation_id: `conv_${i}`,
      // The oldest entry mentions a term nothing newer does; every entry mentions "routine".
      content: i === 0 ? "ancient saga of the founders" : `routine entry ${i}`,
      created_at: T0 + i,
    }));
    for (let i = 0; i < rows.length; i += 500)
      await h.services.db.kysely
        .insertInto("memory_history")
        .values(rows.slice(i, i + 500))
        .execute();
    const store = createMemoryStore(h.services.db.kysely, orgA, agentId);
    expect((await store.matchingHistory("ancient saga")).map((e) => e.conversationId)).toEqual(["conv_0"]);
    expect(await store.search("sagas")).toEqual([]);
    // A term matches the words it starts (on PostgreSQL: any substring): "found" finds "founders".
    expect(await store.search("found")).toEqual(["[2026-11-20 history] ancient saga of the founders"]);
    // Ties on terms matched go to the newest; the sibling's entries never appear.
    const recent = await store.matchingHistory("routine", 3);
    expect(recent.map((e) => e.conversationId)).toEqual(["conv_5998", "conv_5997", "conv_5995"]);
    // More terms matched wins over recency.
    expect((await store.matchingHistory("routine entry 4321", 1)).map((e) => e.conversationId)).toEqual(["conv_4321"]);
    // Deleting rows takes them out of the index (the triggers keep it in step).
    await h.services.db.kysely.deleteFrom("memory_history").where("id", "=", "mem_fts_0").execute();
    expect(await store.matchingHistory("ancient saga")).toEqual([]);
    await h.services.db.kysely
      .updateTable("memory_history")
      .set({ content: "ancient saga retold" })
      .where("id", "=", "mem_fts_3")
      .execute();
    expect((await store.matchingHistory("saga retold")).map((e) => e.conversationId)).toEqual(["conv_3"]);
    expect(await store.matchingHistory("routine entry 3", 5).then((r) => r.map((e) => e.conversationId))).not.toContain("conv_3");
    // Re-indexing from the rows gives the same answers.
    const before = await store.matchingHistory("routine entry 4321 saga", 5);
    await rebuildMemoryIndex(h.services.db.kysely, "memory_history");
    expect(await store.matchingHistory("routine entry 4321 saga", 5)).toEqual(before);
  });

  it("quotes every term, so a message is never read as full-text query syntax", async () => {
    expect(fts5Query('agt_"x', ["near", "or", "deployment"])).toBe('scope:"agt""x" AND content:("near"* OR "or"* OR "deploy"*)');
    const store = createMemoryStore(h.services.db.kysely, orgA, await insertAgent(h, orgA));
    await store.appendNote("NEAR the AND gate, OR not.");
    expect(await store.search('NEAR( "and" OR* :not ^gate -')).toEqual([expect.stringContaining("NEAR the AND gate")]);
    expect(await store.matchingHistory('") OR agent_id:*')).toEqual([]);
  });

  it("never returns another agent's or another org's memory", async () => {
    const mine = await insertAgent(h, orgA);
    const sibling = await insertAgent(h, orgA);
    const foreign = await insertAgent(h, orgB);
    const db = h.services.db.kysely;
    await createMemoryStore(db, orgA, sibling).appendNote("secret sibling zebra");
    await createMemoryStore(db, orgA, sibling).appendHistory("conv_s", "sibling zebra history");
    await createMemoryStore(db, orgB, foreign).appendNote("secret foreign zebra");
    await createMemoryStore(db, orgB, foreign).appendHistory("conv_f", "foreign zebra history");
    // The same agent id under the wrong org sees nothing either.
    const wrongOrg = createMemoryStore(db, orgB, sibling);
    const store = createMemoryStore(db, orgA, mine);
    await store.appendNote("my zebra");
    expect(await store.search("zebra")).toEqual([expect.stringMatching(/note\] my zebra$/)]);
    expect(await store.search("")).toHaveLength(1);
    expect(await store.matchingHistory("zebra")).toEqual([]);
    expect(await wrongOrg.notes()).toEqual([]);
    expect(await wrongOrg.search("zebra")).toEqual([]);
    expect(await wrongOrg.matchingHistory("zebra")).toEqual([]);
    // Caps count only this agent's notes.
    const capped = createMemoryStore(db, orgA, mine, { maxNotes: 2 });
    await expect(capped.appendNote("second")).resolves.toMatchObject({ content: "second" });
  });
});
