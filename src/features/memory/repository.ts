/** SQL of the memory API for people (the dashboard); the engine's side is `createMemoryStore`. */
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import { newId } from "../../lib/ids";
import type { MemoryHistoryEntry } from "../../runtime/memory";

/** True when the agent exists in this org (another org's agent is "not found"). */
export async function agentExists(db: Kysely<Database>, orgId: string, agentId: string): Promise<boolean> {
  const row = await db.selectFrom("agents").select("id").where("org_id", "=", orgId).where("id", "=", agentId).executeTakeFirst();
  return row !== undefined;
}

/** The newest `limit` HISTORY entries, newest first. */
export async function listHistory(db: Kysely<Database>, orgId: string, agentId: string, limit: number): Promise<MemoryHistoryEntry[]> {
  const rows = await db
    .selectFrom("memory_history")
    .select(["id", "conversation_id", "content", "created_at"])
    .where("org_id", "=", orgId)
    .where("agent_id", "=", agentId)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, conversationId: r.conversation_id, content: r.content, createdAt: Number(r.created_at) }));
}

/**
 * Replaces all NOTES in one transaction. A note whose text is unchanged keeps its id and timestamp
 * (its date is what memory search shows); new or edited notes are stamped `now`, one millisecond
 * apart, so that they read back after the kept ones in the order given (notes list in time order).
 */
export async function replaceNotes(db: Kysely<Database>, orgId: string, agentId: string, contents: string[], now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom("memory_notes")
      .select(["id", "content", "created_at"])
      .where("org_id", "=", orgId)
      .where("agent_id", "=", agentId)
      .orderBy("created_at", "asc")
      .execute();
    const unused = new Map<string, { id: string; created_at: number }[]>();
    for (const row of existing) unused.set(row.content, [...(unused.get(row.content) ?? []), row]);
    let stamp = now;
    const rows = contents.map((content) => {
      const kept = unused.get(content)?.shift();
      if (kept) return { id: kept.id, org_id: orgId, agent_id: agentId, content, created_at: Number(kept.created_at) };
      return { id: newId("mem"), org_id: orgId, agent_id: agentId, content, created_at: stamp++ };
    });
    await trx.deleteFrom("memory_notes").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    // Chunked: SQLite caps bound parameters per statement.
    for (let i = 0; i < rows.length; i += 100)
      await trx
        .insertInto("memory_notes")
        .values(rows.slice(i, i + 100))
        .execute();
  });
}

/** Deletes all NOTES and HISTORY of the agent. */
export async function clearMemory(db: Kysely<Database>, orgId: string, agentId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("memory_notes").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    await trx.deleteFrom("memory_history").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
  });
}
