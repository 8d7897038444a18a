/**
 * Counts this process's writes per table, so a cached read can tell whether anything it depends
 * on may have changed since it was made (src/db/read-cache.ts). Every statement of an SQLite
 * database passes `src/db/index.ts`'s statement cache by its text; a statement that writes is
 * classified once, there, and bumps its table's counter each time it runs, whoever runs it
 * (a repository, a prepared query, raw SQL, a migration). Nothing has to remember to invalidate.
 *
 * A read's version is the sum of the counters of the tables it names and of their foreign-key
 * parents (transitively, read from the schema): deleting an org deletes its agents by cascade
 * without a statement that names `agents`, so a read of agents depends on `orgs` too. A statement
 * this does not recognise (DDL, `with …`, anything new) bumps every table and forgets the
 * foreign keys, which are read again when next needed.
 *
 * One connection (SQLite's) runs every statement of the process, one at a time: a read cannot run
 * while a transaction that wrote is open, so a count taken before and after a read tells exactly
 * whether a write fell between.
 */

/** What a statement writes: nothing, one table, or (unrecognised) everything. */
export type WriteTarget = null | { table: string } | "everything";

const READ_ONLY = /^\s*(?:select|pragma|begin|commit|end|rollback|savepoint|release|explain)\b/i;
const IDENTIFIER = String.raw`(?:"(?:[^"]|"")+"|\x60[^\x60]+\x60|\[[^\]]+\]|[A-Za-z_][\w$]*)`;
const WRITE = new RegExp(
  String.raw`^\s*(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+(${IDENTIFIER})(?:\s*\.\s*(${IDENTIFIER}))?`,
  "i",
);

const unquote = (identifier: string): string => {
  if (identifier.startsWith('"')) return identifier.slice(1, -1).replaceAll('""', '"');
  if (identifier.startsWith("`") || identifier.startsWith("[")) return identifier.slice(1, -1);
  return identifier;
};

/** The table a statement writes, from its SQL text. */
export function writeTarget(sqlText: string): WriteTarget {
  if (READ_ONLY.test(sqlText)) return null;
  const match = WRITE.exec(sqlText);
  // "schema"."table" names the table second.
  return match ? { table: unquote((match[2] ?? match[1]) as string).toLowerCase() } : "everything";
}

export class WriteVersions {
  private readonly counters = new Map<string, number>();
  private everything = 0;
  /** child table → the tables it references, from the schema; null until read (and after DDL). */
  private parents: Map<string, string[]> | null = null;
  private readonly closures = new Map<string, string[]>();

  /** `readForeignKeys` lists the schema's foreign keys as (child, parent) pairs, when asked. */
  constructor(private readonly readForeignKeys: () => Array<{ child: string; parent: string }>) {}

  /** Records a statement about to run with this target. */
  wrote(target: WriteTarget): void {
    if (target === null) return;
    if (target === "everything") {
      this.everything++;
      this.parents = null;
      this.closures.clear();
      return;
    }
    this.counters.set(target.table, (this.counters.get(target.table) ?? 0) + 1);
  }

  /** A number that changes whenever a table of `tables` (or a foreign-key parent of one) is written. */
  of(tables: readonly string[]): number {
    let sum = this.everything;
    for (const table of this.closure(tables)) sum += this.counters.get(table) ?? 0;
    return sum;
  }

  private closure(tables: readonly string[]): string[] {
    const key = tables.join(",");
    let closure = this.closures.get(key);
    if (!closure) {
      this.parents ??= this.foreignKeys();
      const seen = new Set<string>();
      const visit = (table: string) => {
        if (seen.has(table)) return;
        seen.add(table);
        for (const parent of this.parents?.get(table) ?? []) visit(parent);
      };
      for (const table of tables) visit(table.toLowerCase());
      closure = [...seen];
      this.closures.set(key, closure);
    }
    return closure;
  }

  private foreignKeys(): Map<string, string[]> {
    const parents = new Map<string, string[]>();
    for (const { child, parent } of this.readForeignKeys()) {
      const list = parents.get(child.toLowerCase()) ?? [];
      list.push(parent.toLowerCase());
      parents.set(child.toLowerCase(), list);
    }
    return parents;
  }
}
