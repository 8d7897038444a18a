import { type Kysely, sql } from "kysely";

/**
 * Full-text indexes for agent memory (NOTES and HISTORY), so that matching the memory of an
 * agent to a message costs the same whether it remembers ten things or a hundred thousand.
 *
 * SQLite: a contentless FTS5 table per memory table (the rows stay where they are; the index
 * holds tokens and the row's rowid), kept in step by triggers. Two columns: `scope`, the agent id
 * as one token (underscores dropped), so a search walks only that agent's postings, and
 * `content`. `unicode61` folds case for all of Unicode and keeps diacritics (`über` is not
 * `uber`). Prefix indexes of 2 to 6 characters make "words starting with" as cheap as a whole
 * word: without them FTS5 merges every posting of the prefix before it can stop at the newest.
 * The rows already there are indexed here; `rebuildMemoryIndex` (src/features/memory/store.ts)
 * does the same at any time, e.g. after a tool that renumbers rowids.
 *
 * PostgreSQL: nothing. A GIN index on `to_tsvector('simple', content)` was measured and not
 * kept: it cannot return the newest matches without reading all of them, and for a rare term the
 * planner walked the agent's rows computing to_tsvector on each (BENCHMARKS.md). PostgreSQL keeps
 * its bounded substring search (src/features/memory/store.ts).
 */
const TABLES = ["memory_notes", "memory_history"] as const;

export async function up(db: Kysely<any>, dialect: "sqlite" | "postgres"): Promise<void> {
  for (const table of TABLES) {
    if (dialect === "postgres") continue;
    const fts = `${table}_fts`;
    const row = (r: "new" | "old") => `${r}.rowid, replace(${r}.agent_id, '_', ''), ${r}.content`;
    await sql
      .raw(
        `create virtual table ${fts} using fts5(scope, content, content='', contentless_delete=1, prefix='2 3 4 5 6', tokenize="unicode61 remove_diacritics 0")`,
      )
      .execute(db);
    await sql
      .raw(
        `create trigger ${table}_fts_insert after insert on ${table} begin insert into ${fts}(rowid, scope, content) values (${row("new")}); end`,
      )
      .execute(db);
    await sql
      .raw(`create trigger ${table}_fts_delete after delete on ${table} begin delete from ${fts} where rowid = old.rowid; end`)
      .execute(db);
    await sql
      .raw(
        `create trigger ${table}_fts_update after update of agent_id, content on ${table} begin
           delete from ${fts} where rowid = old.rowid;
           insert into ${fts}(rowid, scope, content) values (${row("new")});
         end`,
      )
      .execute(db);
    await sql.raw(`insert into ${fts}(rowid, scope, content) select rowid, replace(agent_id, '_', ''), content from ${table}`).execute(db);
  }
}

export async function down(db: Kysely<any>, dialect: "sqlite" | "postgres" = "sqlite"): Promise<void> {
  for (const table of TABLES) {
    if (dialect === "postgres") continue;
    for (const t of ["insert", "delete", "update"]) await sql.raw(`drop trigger if exists ${table}_fts_${t}`).execute(db);
    await sql.raw(`drop table if exists ${table}_fts`).execute(db);
  }
}
