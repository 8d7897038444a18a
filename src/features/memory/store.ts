/**
 * The SQL-backed agent memory (DESIGN.md §1): NOTES the agent curates and HISTORY appended after
 * each conversation turn. Search finds candidate rows (on SQLite through the FTS5 index of
 * migration 0015, where a term matches the words it starts; on PostgreSQL by substring over a
 * bounded window) and ranks lines in TypeScript (distinct terms contained, then recency), so both
 * dialects rank alike.
 */
import { type Expression, type Kysely, type SqlBool, SqliteAdapter, sql } from "kysely";
import type { Database } from "../../db/schema";
import { newId } from "../../lib/ids";
import { utcDay } from "../../lib/time";
import { type MemoryHistoryEntry, type MemoryNote, type MemoryStore, MemoryFullError } from "../../runtime/memory";
import { prepare, preparedInsert } from "../../db/prepared";

/** Per-agent caps on NOTES. Notes are always in the agent's context, so they must stay small. */
export interface MemoryLimits {
  /** Longest single note, in characters. */
  maxNoteChars: number;
  /** Most notes per agent. */
  maxNotes: number;
  /** Most characters across all of an agent's notes. */
  maxNotesTotalChars: number;
}

/** The default caps (the HTTP API and the tools share them). */
export const DEFAULT_MEMORY_LIMITS: Readonly<MemoryLimits> = Object.freeze({
  maxNoteChars: 4000,
  maxNotes: 500,
  maxNotesTotalChars: 200_000,
});

export interface MemoryStoreOptions extends Partial<MemoryLimits> {
  /** Clock in epoch ms (tests pin it). */
  now?: () => number;
  /**
   * matchingHistory ranks the full candidate set on every call, without its shortcuts (tests
   * compare the shortcuts' answers against it).
   */
  fullRanking?: boolean;
}

/** At most this many terms of a query are used: a long chat message must not become a huge query. */
const MAX_TERMS = 24;
/**
 * Rows the full-text index may return per table before ranking in TypeScript: the newest rows
 * that contain any term. The index finds them without reading the others, so the cost of a
 * search is bounded by this, not by how much the agent remembers.
 */
const MAX_CANDIDATE_ROWS = 1000;
/** A run's context needs a handful of entries; fewer candidates keep every run cheap. */
const MAX_CONTEXT_CANDIDATES = 200;

/** A row of NOTES or HISTORY as matchingRows reads it; `seq` is SQLite's rowid (null on PostgreSQL). */
type MemoryRow = { id: string; conversation_id: string | null; content: string; created_at: number; seq: number | null };

/**
 * "Newest first", the one order in which matchingRows hands back rows and in which candidate sets
 * are merged, so that every candidate set is a prefix of the matching rows in the order that ranks
 * them (matchingHistory's shortcut depends on it). SQLite: the rowid, the order the FTS5 index
 * walks (insertion order, which is time order for memory that is only appended). PostgreSQL:
 * created_at, then the id compared as the SQL compares it (`collate "C"`, byte order, which is
 * this code-unit order for the ASCII ids of newId): the database's own collation could order
 * `mem_a` and `mem_B` either way. The merge used to sort SQLite's rows by created_at and id too,
 * so rows with equal created_at (a pinned clock, a bulk import) ranked differently depending on
 * whether the any-term set was full.
 */
function newerFirst(a: MemoryRow, b: MemoryRow): number {
  if (a.seq !== null && b.seq !== null) return b.seq - a.seq;
  return Number(b.created_at) - Number(a.created_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * Candidates for ranking: the newest rows containing every term (they score highest, however old)
 * and the newest rows containing any. Without the first, a common word would fill the candidates
 * with recent rows and push out an older row that matches the whole question. `anyDecides` tells
 * from the rows matching any term that the others cannot change the caller's answer (see
 * rankHistory).
 */
async function candidateRows(
  db: Kysely<Database>,
  table: "memory_notes" | "memory_history",
  orgId: string,
  agentId: string,
  terms: string[],
  limit: number,
  options: { anyDecides?: (any: MemoryRow[]) => boolean } = {},
): Promise<MemoryRow[]> {
  const any = await matchingRows(db, table, orgId, agentId, terms, limit);
  if (terms.length < 2 || any.length < limit || options.anyDecides?.(any)) return any;
  const all = await matchingRows(db, table, orgId, agentId, terms, limit, true);
  const seen = new Set(any.map((r) => r.id));
  return [...any, ...all.filter((r) => !seen.has(r.id))].sort(newerFirst);
}

const STOPWORDS = new Set(
  (
    "a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its " +
    "me my no not of on or our she so than that the their them then there these they this to was we were what when where " +
    "which who whom why will with would you your yours about all also am any just more most other over some such only own " +
    "same too very should now up out off down again further once here both each few nor s t don"
  ).split(" "),
);

/** The search terms of a query: lower-cased words of letters/digits, 2+ characters, no stopwords, distinct. */
export function searchTerms(query: string): string[] {
  const terms: string[] = [];
  for (const word of query.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (word.length < 2 || STOPWORDS.has(word) || terms.includes(word)) continue;
    terms.push(word);
    if (terms.length === MAX_TERMS) break;
  }
  return terms;
}

/** Escapes LIKE's wildcards so `50%` or `snake_case` match literally (used with ESCAPE '\'). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/**
 * PostgreSQL's condition: `content` contains any (with `all`: every) term, case-insensitively.
 * lower() may fold ASCII only (the `C` locale), so terms with other letters also match their
 * upper-case and capitalised forms.
 */
function containsTerms(terms: string[], all: boolean): Expression<SqlBool> {
  const perTerm = terms.map((term) => {
    const pattern = (t: string) => `%${escapeLike(t)}%`;
    const forms = termForms(term).map((form, i) =>
      i === 0
        ? sql<SqlBool>`lower(m.content) like ${pattern(form)} escape '\\'`
        : sql<SqlBool>`m.content like ${pattern(form)} escape '\\'`,
    );
    return sql<SqlBool>`(${sql.join(forms, sql` or `)})`;
  });
  return sql<SqlBool>`(${sql.join(perTerm, all ? sql` and ` : sql` or `)})`;
}

/**
 * On PostgreSQL only the newest entries of HISTORY are searched. A GIN tsvector index was measured
 * (BENCHMARKS.md): it cannot hand back the newest matches without reading every match, and when a
 * term is rare the planner walks the agent's rows computing to_tsvector on each (2.3 s at 100,000
 * entries); a bounded window of substring matches costs a few milliseconds at any size.
 */
export const PG_HISTORY_SEARCH_WINDOW = 5000;

/**
 * The forms of a term to look up. SQLite's FTS5 folds case for all of Unicode; PostgreSQL's
 * to_tsvector folds with the database's locale, which under `C` leaves non-ASCII letters alone,
 * so terms with such letters are also looked up upper-cased and capitalised there.
 */
function termForms(term: string): string[] {
  if (!/[^\x00-\x7f]/.test(term)) return [term];
  return [...new Set([term, term.toUpperCase(), term[0].toUpperCase() + term.slice(1)])];
}

/** The longest prefix index of the FTS5 tables (migration 0015): longer terms are looked up by their first 6 characters. */
const FTS5_PREFIX_MAX = 6;

/**
 * FTS5 query: this agent's rows (its `scope` token, the id without underscores as the migration
 * indexes it) containing a word that starts with any term (with `all`: every term). A longer term
 * is looked up by its first characters, which the prefix index answers without merging postings;
 * ranking then counts only real matches. Terms are letters and digits only (searchTerms), and
 * every string is quoted, so nothing in a message is read as FTS5 syntax.
 */
export function fts5Query(agentId: string, terms: string[], all = false): string {
  const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;
  const prefixes = [...new Set(terms.map((t) => [...t].slice(0, FTS5_PREFIX_MAX).join("")))];
  return `scope:${quote(agentId.replaceAll("_", ""))} AND content:(${prefixes.map((t) => `${quote(t)}*`).join(all ? " AND " : " OR ")})`;
}

/** Re-indexes one memory table's rows from scratch on SQLite (the FTS5 index is keyed by rowid). */
export async function rebuildMemoryIndex(db: Kysely<Database>, table: "memory_notes" | "memory_history"): Promise<void> {
  if (!isSqlite(db)) return;
  await db.transaction().execute(async (trx) => {
    await sql`delete from ${sql.id(`${table}_fts`)}`.execute(trx);
    await sql`insert into ${sql.id(`${table}_fts`)}(rowid, scope, content) select rowid, replace(agent_id, '_', ''), content from ${sql.id(table)}`.execute(
      trx,
    );
  });
}

const isSqlite = (db: Kysely<Database>) => db.getExecutor().adapter instanceof SqliteAdapter;

/**
 * Runs reads of HISTORY so that PostgreSQL walks migration 0016's index newest first and stops at
 * the LIMIT, whatever its statistics say. Without statistics (a table filled in bulk and not yet
 * analyzed) the planner takes one agent for a handful of rows and prefers reading all of them
 * through a bitmap and sorting: 120 to 250 ms at 100,000 entries, against 1 to 2 ms for the walk.
 * `enable_sort = off` leaves it the walk (it still sorts when nothing else can answer), for this
 * transaction only. Inside a caller's transaction, the reads run as they are: a setting there would
 * outlive them. SQLite's reads are planned by the FTS5 index and need nothing.
 */
function newestFirst<T>(db: Kysely<Database>, read: (q: Kysely<Database>) => Promise<T>): Promise<T> {
  if (isSqlite(db) || db.isTransaction) return read(db);
  return db.transaction().execute(async (trx) => {
    await sql`set local enable_sort = off`.execute(trx);
    return read(trx);
  });
}

/**
 * Rows of `table` for this agent containing a word that starts with any term (with `all`: every
 * term), newest first (newerFirst), at most `limit`. SQLite walks the FTS5 index in rowid order
 * and stops at `limit`.
 * PostgreSQL walks the agent's rows newest first (migration 0016's index), keeps the first
 * PG_HISTORY_SEARCH_WINDOW of HISTORY, and stops at `limit` matches. Every row is also checked
 * against org and agent in its own table. The limit is written into the SQL: SQLite compiles a
 * statement with a bound LIMIT again at every execution (src/db/inline-limits.ts), and an FTS5
 * query is among the dearest to compile.
 */
async function matchingRows(
  db: Kysely<Database>,
  table: "memory_notes" | "memory_history",
  orgId: string,
  agentId: string,
  terms: string[],
  limit: number,
  all = false,
): Promise<MemoryRow[]> {
  const max = sql.lit(Math.max(0, Math.floor(limit)));
  if (isSqlite(db)) {
    const fts = sql.id(`${table}_fts`);
    const conversation = table === "memory_history" ? sql`m.conversation_id` : sql`null`;
    const { rows } = await sql<MemoryRow>`
      select m.id, ${conversation} as conversation_id, m.content, m.created_at, f.rowid as seq
      from ${fts} f join ${sql.id(table)} m on m.rowid = f.rowid
      where ${fts} match ${fts5Query(agentId, terms, all)} and m.org_id = ${orgId} and m.agent_id = ${agentId}
      order by f.rowid desc limit ${max}`.execute(db);
    return rows;
  }
  if (table === "memory_history") {
    // The window is the newest rows, then the filter: the walk reads at most the window, and
    // stops as soon as `limit` rows match. (A condition created_at >= the window's oldest
    // created_at, found by a subquery with an offset, read the window twice and made the planner
    // sort the agent's matching rows.)
    const { rows } = await sql<MemoryRow>`
      select m.id, m.conversation_id, m.content, m.created_at, null as seq
      from (
        select m.id, m.conversation_id, m.content, m.created_at from memory_history m
        where m.org_id = ${orgId} and m.agent_id = ${agentId}
        order by m.created_at desc, m.id collate "C" desc limit ${sql.lit(PG_HISTORY_SEARCH_WINDOW)}
      ) m
      where ${containsTerms(terms, all)}
      order by m.created_at desc, m.id collate "C" desc limit ${max}`.execute(db);
    return rows;
  }
  const { rows } = await sql<MemoryRow>`
    select m.id, null as conversation_id, m.content, m.created_at, null as seq
    from memory_notes m
    where m.org_id = ${orgId} and m.agent_id = ${agentId} and ${containsTerms(terms, all)}
    order by m.created_at desc, m.id collate "C" desc limit ${max}`.execute(db);
  return rows;
}

/** A HISTORY row as the runtime sees it. */
function historyEntry(r: MemoryRow): MemoryHistoryEntry {
  return { id: r.id, conversationId: r.conversation_id, content: r.content, createdAt: Number(r.created_at) };
}

/** How many distinct terms a text contains (case-insensitive substring match, like the SQL filter). */
function termsMatched(text: string, terms: string[]): number {
  const lower = text.toLowerCase();
  let n = 0;
  for (const term of terms) if (lower.includes(term)) n++;
  return n;
}

/** `2026-11-28` (UTC) of an epoch-ms timestamp. */
/** Why a note cannot be added, in words the agent can act on; null when it fits. */
export function noteRefusal(content: string, current: { count: number; totalChars: number }, limits: MemoryLimits): string | null {
  if (content.length > limits.maxNoteChars) {
    return `Note is ${content.length} characters; the limit is ${limits.maxNoteChars}. Save a shorter summary, or split it into several notes.`;
  }
  if (current.count >= limits.maxNotes) {
    return `Memory is full (${current.count} of ${limits.maxNotes} notes). Nothing was saved; ask the user to remove outdated notes in the dashboard, or keep this in the conversation instead.`;
  }
  if (current.totalChars + content.length > limits.maxNotesTotalChars) {
    return `Memory is full (${current.totalChars} of ${limits.maxNotesTotalChars} characters used; this note needs ${content.length}). Nothing was saved; save a shorter note, or ask the user to remove outdated notes in the dashboard.`;
  }
  return null;
}

/** Count and total length of an agent's notes. */
export async function notesUsage(db: Kysely<Database>, orgId: string, agentId: string): Promise<{ count: number; totalChars: number }> {
  const row = await db
    .selectFrom("memory_notes")
    .select([sql<number>`count(*)`.as("count"), sql<number>`coalesce(sum(length(content)), 0)`.as("total")])
    .where("org_id", "=", orgId)
    .where("agent_id", "=", agentId)
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), totalChars: Number(row.total) };
}

/** A MemoryStore that also tells its caps (memory_write reports "Saved note (N of max)"). */
export type SqlMemoryStore = MemoryStore & { readonly limits: Readonly<MemoryLimits> };

// Prepared (src/db/prepared.ts): every run reads NOTES and appends to HISTORY.
const notesOfAgent = prepare<[string, string], { id: string; content: string; created_at: number }>((db, p) =>
  db
    .selectFrom("memory_notes")
    .select(["id", "content", "created_at"])
    .where("org_id", "=", p(0))
    .where("agent_id", "=", p(1))
    .orderBy("created_at", "asc")
    .orderBy("id", "asc"),
);
const insertHistory = preparedInsert("memory_history");

/** The memory of one agent of one org. Every query is scoped by both ids. */
export function createMemoryStore(db: Kysely<Database>, orgId: string, agentId: string, options: MemoryStoreOptions = {}): SqlMemoryStore {
  const limits: MemoryLimits = {
    maxNoteChars: options.maxNoteChars ?? DEFAULT_MEMORY_LIMITS.maxNoteChars,
    maxNotes: options.maxNotes ?? DEFAULT_MEMORY_LIMITS.maxNotes,
    maxNotesTotalChars: options.maxNotesTotalChars ?? DEFAULT_MEMORY_LIMITS.maxNotesTotalChars,
  };
  const now = options.now ?? Date.now;

  const notes = async (): Promise<MemoryNote[]> => {
    const rows = await notesOfAgent.rows(db, [orgId, agentId]);
    return rows.map((r) => ({ id: r.id, content: r.content, createdAt: Number(r.created_at) }));
  };

  /** History rows containing any term, newest first, capped (options: see candidateRows). */
  const candidateHistory = async (
    q: Kysely<Database>,
    terms: string[],
    limit: number,
    options?: Parameters<typeof candidateRows>[6],
  ): Promise<MemoryHistoryEntry[]> => (await candidateRows(q, "memory_history", orgId, agentId, terms, limit, options)).map(historyEntry);

  /** The first `limit` rows that contain every term (the highest score), in the order given. */
  const fullScores = (rows: MemoryRow[], terms: string[], limit: number) =>
    rows.filter((r) => termsMatched(r.content, terms) === terms.length).slice(0, limit);

  /** matchingHistory's ranking, its reads through `q`. */
  const rankHistory = async (q: Kysely<Database>, terms: string[], limit: number): Promise<MemoryHistoryEntry[]> => {
    const shortcuts = !options.fullRanking && limit > 0 && limit < MAX_CONTEXT_CANDIDATES;
    if (terms.length === 1 && shortcuts) {
      // One term: every entry that matches scores the same, so the ranking below is recency
      // alone and its answer is the newest `limit` matching entries. Reading those first gives
      // the same answer without fetching and ranking MAX_CONTEXT_CANDIDATES rows (the largest
      // statement of a run with a one-word message). Should a candidate fail the substring check
      // below (the index and it disagreeing on a word), the full ranking decides instead.
      const newest = await candidateHistory(q, terms, limit);
      const matching = newest.filter((entry) => termsMatched(entry.content, terms) > 0);
      if (matching.length === newest.length || newest.length < limit) return matching;
    }
    // Two or more terms. The full ranking's candidates are C = the newest MAX_CONTEXT_CANDIDATES
    // rows matching any term (S, in newerFirst order) and, when that set is full, the newest
    // MAX_CONTEXT_CANDIDATES matching every term; C ⊆ S. Its answer: the first `limit` rows of C
    // by score (distinct terms contained), then newerFirst. The shortcut rests on one fact:
    //   Let P be a prefix of S no longer than MAX_CONTEXT_CANDIDATES. If P holds `limit` rows
    //   that contain every term, the first `limit` of them are the answer.
    // Because: P lies within the newest MAX_CONTEXT_CANDIDATES rows of S, which are in C when
    // that set is full, and C is all of S when it is not; so P ⊆ C ⊆ S, and P is a prefix of C.
    // No score exceeds the number of terms, so with `limit` rows of C scoring that the answer is
    // the first `limit` rows of C scoring it, in newerFirst order; P being a prefix of C, those
    // are the first `limit` rows of P scoring it. Ties are no exception: newerFirst is a total
    // order (rowid; created_at then a unique id), the same in the SQL and in the merge. The
    // score is always the substring check, never the index's word: a row the index matches by
    // its first FTS5_PREFIX_MAX characters (`deployment` as `deploy*`) but that does not contain
    // the term does not count, and a row containing a term inside a word (`redeploy`), which the
    // index matches only through another term, counts as the full ranking counts it.
    //
    // So the every-term set is read only when the any-term set (a prefix of S) holds fewer than
    // `limit` rows scoring every term: one query where the full ranking took two, and never more.
    // (Reading a shorter prefix first, the newest `limit` rows matching every term and then the
    // any-term rows from the oldest of them on, was measured too: on SQLite a full-text query
    // costs about as much for 5 rows as for 200, 0.35 against 0.7 ms at 100,000 entries, and a
    // rowid range makes FTS5 read whole postings lists; on PostgreSQL it saved a few hundred rows
    // of walk when the terms are common together and cost a second pass over the window when
    // they are rare: 2.6/10.8/10.7 ms per call at 0/10,000/100,000 entries, against 1.3/8.5/9.1.)
    const anyDecides = shortcuts ? (any: MemoryRow[]) => fullScores(any, terms, limit).length === limit : undefined;
    const ranked = (await candidateHistory(q, terms, MAX_CONTEXT_CANDIDATES, { anyDecides }))
      .map((entry, order) => ({ entry, order, score: termsMatched(entry.content, terms) }))
      .filter((r) => r.score > 0);
    // Candidates arrive newest first, so `order` breaks score ties by recency.
    ranked.sort((a, b) => b.score - a.score || a.order - b.order);
    return ranked.slice(0, Math.max(0, limit)).map((r) => r.entry);
  };

  return {
    limits: Object.freeze({ ...limits }),
    notes,

    async appendNote(content) {
      const text = content.trim();
      if (!text) throw new MemoryFullError("A note cannot be empty; write the fact you want to remember.");
      // Checked before inserting: two concurrent appends of one agent may overshoot a cap by one note,
      // which is harmless (one agent rarely writes concurrently) and cheaper than locking.
      const refusal = noteRefusal(text, await notesUsage(db, orgId, agentId), limits);
      if (refusal) throw new MemoryFullError(refusal);
      const note: MemoryNote = { id: newId("mem"), content: text, createdAt: now() };
      await db
        .insertInto("memory_notes")
        .values({ id: note.id, org_id: orgId, agent_id: agentId, content: note.content, created_at: note.createdAt })
        .execute();
      return note;
    },

    async search(query, limit = 20) {
      const terms = searchTerms(query);
      if (terms.length === 0) {
        // Nothing to filter by: the whole of NOTES (bounded by the caps) is the useful answer.
        return (await notes()).map((n) => `[${utcDay(n.createdAt)} note] ${n.content}`);
      }
      const noteRows = await candidateRows(db, "memory_notes", orgId, agentId, terms, MAX_CANDIDATE_ROWS);
      const sources = [
        ...noteRows.map((r) => ({ source: "note", content: r.content, createdAt: Number(r.created_at) })),
        ...(await newestFirst(db, (q) => candidateHistory(q, terms, MAX_CANDIDATE_ROWS))).map((h) => ({
          source: "history",
          content: h.content,
          createdAt: h.createdAt,
        })),
      ];
      const hits: { line: string; score: number; createdAt: number; order: number }[] = [];
      const seen = new Set<string>();
      for (const entry of sources) {
        for (const raw of entry.content.split(/\r?\n/)) {
          const text = raw.trim();
          const score = text ? termsMatched(text, terms) : 0;
          if (score === 0) continue;
          const line = `[${utcDay(entry.createdAt)} ${entry.source}] ${text}`;
          if (seen.has(line)) continue;
          seen.add(line);
          hits.push({ line, score, createdAt: entry.createdAt, order: hits.length });
        }
      }
      hits.sort((a, b) => b.score - a.score || b.createdAt - a.createdAt || a.order - b.order);
      return hits.slice(0, Math.max(0, limit)).map((h) => h.line);
    },

    async matchingHistory(text, limit = 5) {
      const terms = searchTerms(text);
      if (terms.length === 0) return [];
      return newestFirst(db, (q) => rankHistory(q, terms, limit));
    },

    async appendHistory(conversationId, content) {
      const text = content.trim();
      // An empty summary carries nothing worth finding later.
      if (!text) return;
      await insertHistory(db, {
        id: newId("mem"),
        org_id: orgId,
        agent_id: agentId,
        conversation_id: conversationId,
        content: text,
        created_at: now(),
      });
    },
  };
}
