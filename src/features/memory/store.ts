/**
 * The SQL-backed agent memory (DESIGN.md §1): NOTES the agent curates and HISTORY appended after
 * each conversation turn. Search pre-filters rows in SQL (LIKE on lower(content), one OR per term,
 * a capped number of rows) and ranks lines in TypeScript, so both SQLite and PostgreSQL behave alike.
 */
import { type Expression, type Kysely, type SqlBool, sql } from "kysely";
import type { Database } from "../../db/schema";
import { newId } from "../../lib/ids";
import { type MemoryHistoryEntry, type MemoryNote, type MemoryStore, MemoryFullError } from "../../runtime/memory";

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
}

/** At most this many terms of a query are used: a long chat message must not become a huge SQL OR. */
const MAX_TERMS = 24;
/** Rows the SQL pre-filter may return per table before ranking in TypeScript. */
const MAX_CANDIDATE_ROWS = 1000;
/**
 * HISTORY grows with every conversation; searching it runs on every chat. Only the newest
 * entries are searched, so a run's cost stays flat however long an agent has been in use.
 */
export const HISTORY_SEARCH_WINDOW = 5000;

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
 * SQL condition: `content` contains any of the terms, case-insensitively. lower() in SQLite folds
 * ASCII only, so terms with other letters also match their upper-case and capitalised forms.
 */
function containsAnyTerm(terms: string[]): Expression<SqlBool> {
  const conditions = terms.flatMap((term) => {
    const pattern = (t: string) => `%${escapeLike(t)}%`;
    const list = [sql<SqlBool>`lower(content) like ${pattern(term)} escape '\\'`];
    if (/[^\x00-\x7f]/.test(term)) {
      for (const variant of new Set([term.toUpperCase(), term[0].toUpperCase() + term.slice(1)])) {
        if (variant !== term) list.push(sql<SqlBool>`content like ${pattern(variant)} escape '\\'`);
      }
    }
    return list;
  });
  return sql<SqlBool>`(${sql.join(conditions, sql` or `)})`;
}

/** How many distinct terms a text contains (case-insensitive substring match, like the SQL filter). */
function termsMatched(text: string, terms: string[]): number {
  const lower = text.toLowerCase();
  let n = 0;
  for (const term of terms) if (lower.includes(term)) n++;
  return n;
}

/** `2026-11-28` (UTC) of an epoch-ms timestamp. */
function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

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

/** The memory of one agent of one org. Every query is scoped by both ids. */
export function createMemoryStore(db: Kysely<Database>, orgId: string, agentId: string, options: MemoryStoreOptions = {}): SqlMemoryStore {
  const limits: MemoryLimits = {
    maxNoteChars: options.maxNoteChars ?? DEFAULT_MEMORY_LIMITS.maxNoteChars,
    maxNotes: options.maxNotes ?? DEFAULT_MEMORY_LIMITS.maxNotes,
    maxNotesTotalChars: options.maxNotesTotalChars ?? DEFAULT_MEMORY_LIMITS.maxNotesTotalChars,
  };
  const now = options.now ?? Date.now;

  const notes = async (): Promise<MemoryNote[]> => {
    const rows = await db
      .selectFrom("memory_notes")
      .select(["id", "content", "created_at"])
      .where("org_id", "=", orgId)
      .where("agent_id", "=", agentId)
      .orderBy("created_at", "asc")
      .orderBy("id", "asc")
      .execute();
    return rows.map((r) => ({ id: r.id, content: r.content, createdAt: Number(r.created_at) }));
  };

  /** History rows containing any term, newest first, capped. */
  const candidateHistory = async (terms: string[]): Promise<MemoryHistoryEntry[]> => {
    const rows = await db
      .selectFrom("memory_history")
      .select(["id", "conversation_id", "content", "created_at"])
      .where("org_id", "=", orgId)
      .where("agent_id", "=", agentId)
      .where(
        "created_at",
        ">=",
        sql<number>`coalesce((select h.created_at from memory_history h where h.org_id = ${orgId} and h.agent_id = ${agentId} order by h.created_at desc limit 1 offset ${HISTORY_SEARCH_WINDOW - 1}), 0)`,
      )
      .where(containsAnyTerm(terms))
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(MAX_CANDIDATE_ROWS)
      .execute();
    return rows.map((r) => ({ id: r.id, conversationId: r.conversation_id, content: r.content, createdAt: Number(r.created_at) }));
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
        return (await notes()).map((n) => `[${day(n.createdAt)} note] ${n.content}`);
      }
      const noteRows = await db
        .selectFrom("memory_notes")
        .select(["content", "created_at"])
        .where("org_id", "=", orgId)
        .where("agent_id", "=", agentId)
        .where(containsAnyTerm(terms))
        .orderBy("created_at", "desc")
        .limit(MAX_CANDIDATE_ROWS)
        .execute();
      const sources = [
        ...noteRows.map((r) => ({ source: "note", content: r.content, createdAt: Number(r.created_at) })),
        ...(await candidateHistory(terms)).map((h) => ({ source: "history", content: h.content, createdAt: h.createdAt })),
      ];
      const hits: { line: string; score: number; createdAt: number; order: number }[] = [];
      const seen = new Set<string>();
      for (const entry of sources) {
        for (const raw of entry.content.split(/\r?\n/)) {
          const text = raw.trim();
          const score = text ? termsMatched(text, terms) : 0;
          if (score === 0) continue;
          const line = `[${day(entry.createdAt)} ${entry.source}] ${text}`;
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
      const ranked = (await candidateHistory(terms))
        .map((entry, order) => ({ entry, order, score: termsMatched(entry.content, terms) }))
        .filter((r) => r.score > 0);
      // Candidates arrive newest first, so `order` breaks score ties by recency.
      ranked.sort((a, b) => b.score - a.score || a.order - b.order);
      return ranked.slice(0, Math.max(0, limit)).map((r) => r.entry);
    },

    async appendHistory(conversationId, content) {
      const text = content.trim();
      // An empty summary carries nothing worth finding later.
      if (!text) return;
      await db
        .insertInto("memory_history")
        .values({ id: newId("mem"), org_id: orgId, agent_id: agentId, conversation_id: conversationId, content: text, created_at: now() })
        .execute();
    },
  };
}
