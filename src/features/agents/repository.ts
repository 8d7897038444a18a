import type { Kysely, Transaction } from "kysely";
import type { Db } from "../../db";
import type { AgentsTable, Database } from "../../db/schema";
import { lockOrg } from "../orgs/repository";
import { type PreparedQuery, prepare } from "../../db/prepared";

type Executor = Kysely<Database> | Transaction<Database>;

/** One agent of an org (every query is scoped by org: another org's id is simply not found). */
export function findAgent(db: Executor, orgId: string, agentId: string): Promise<AgentsTable | undefined> {
  return agentById.first(db, [orgId, agentId]);
}

/** `findAgent` through the read cache (src/db/read-cache.ts): read again only after an agent (or the org) is written. The row is frozen. */
export function findAgentCached(db: Db, orgId: string, agentId: string): Promise<AgentsTable | undefined> {
  return db.reads.get(orgId, `agent ${agentId}`, ["agents"], () => findAgent(db.kysely, orgId, agentId));
}

// Prepared (src/db/prepared.ts): every chat and agent read runs these.
const agentById = prepare<[string, string], AgentsTable>((db, p) =>
  db.selectFrom("agents").selectAll().where("org_id", "=", p(0)).where("id", "=", p(1)),
);
/** A page of `limit` agents, prepared per page size: the limit is written into the SQL (src/db/inline-limits.ts). */
const agentPages = new Map<number, PreparedQuery<[string, number], AgentsTable>>();
function agentPage(limit: number): PreparedQuery<[string, number], AgentsTable> {
  let page = agentPages.get(limit);
  if (!page) {
    page = prepare((db, p) =>
      db
        .selectFrom("agents")
        .selectAll()
        .where("org_id", "=", p(0))
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit)
        .offset(p(1)),
    );
    // Page sizes are bounded by the API (1–100); the bound keeps an unexpected caller from growing this.
    if (agentPages.size < 100) agentPages.set(limit, page);
  }
  return page;
}

/** Which of `agentIds` are agents of the org. */
export async function existingAgentIds(db: Executor, orgId: string, agentIds: readonly string[]): Promise<Set<string>> {
  if (agentIds.length === 0) return new Set();
  const rows = await db
    .selectFrom("agents")
    .select("id")
    .where("org_id", "=", orgId)
    .where("id", "in", [...agentIds])
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** A page of the org's agents, newest first; `agentIds` limits it to those (a restricted key's view). */
export async function listAgents(
  db: Executor,
  orgId: string,
  options: { agentIds: readonly string[] | null; limit: number; offset: number },
): Promise<{ rows: AgentsTable[]; total: number }> {
  let base = db.selectFrom("agents").where("org_id", "=", orgId);
  if (options.agentIds) {
    if (options.agentIds.length === 0) return { rows: [], total: 0 };
    base = base.where("id", "in", [...options.agentIds]);
  }
  const rows = options.agentIds
    ? await base.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(options.limit).offset(options.offset).execute()
    : await agentPage(options.limit).rows(db, [orgId, options.offset]);
  // A page that is not full is the last one: the total is known without counting (most orgs
  // have fewer agents than a page holds). An empty page past the first says nothing: count.
  if (rows.length < options.limit && (rows.length > 0 || options.offset === 0)) return { rows, total: options.offset + rows.length };
  const count = await base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return { rows, total: Number(count.n) };
}

/** `listAgents` through the read cache (src/db/read-cache.ts): read again only after an agent (or the org) is written. */
export function listAgentsCached(
  db: Db,
  orgId: string,
  options: { agentIds: readonly string[] | null; limit: number; offset: number },
): Promise<{ rows: AgentsTable[]; total: number }> {
  const key = `agents ${options.limit} ${options.offset} ${options.agentIds?.join(",") ?? "*"}`;
  return db.reads.get(orgId, key, ["agents"], () => listAgents(db.kysely, orgId, options));
}

/**
 * Inserts an agent unless the org already has `maxAgents` (null = no cap). Count and insert run
 * in one transaction under the org row's lock, so two concurrent creates cannot both pass the count.
 */
export function insertAgentWithinLimit(db: Kysely<Database>, agent: AgentsTable, maxAgents: number | null): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await lockOrg(trx, agent.org_id);
    if (maxAgents !== null) {
      const row = await trx
        .selectFrom("agents")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("org_id", "=", agent.org_id)
        .executeTakeFirstOrThrow();
      if (Number(row.n) >= maxAgents) return false;
    }
    await trx.insertInto("agents").values(agent).execute();
    return true;
  });
}

/** The columns a PATCH may change. */
export type AgentChanges = Partial<
  Pick<
    AgentsTable,
    | "name"
    | "description"
    | "system_prompt"
    | "model"
    | "temperature"
    | "max_iterations"
    | "enabled_tools"
    | "metadata"
    | "approval_required"
  >
>;

/** Applies a partial update and returns the row after it; undefined when the org has no such agent. */
export async function updateAgent(
  db: Executor,
  orgId: string,
  agentId: string,
  changes: AgentChanges,
  now: number,
): Promise<AgentsTable | undefined> {
  await db
    .updateTable("agents")
    .set({ ...changes, updated_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", agentId)
    .execute();
  return findAgent(db, orgId, agentId);
}

/**
 * Deletes an agent and everything hanging off it: skill links, memory notes and history,
 * conversations and their messages, its runs. Foreign keys would cascade too, but deleting
 * explicitly in one transaction keeps it correct on both dialects whatever the constraints.
 * Usage records (and their daily rollup) stay: they are billing history. False when the org has
 * no such agent.
 */
export function deleteAgent(db: Kysely<Database>, orgId: string, agentId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const conversations = trx.selectFrom("conversations").select("id").where("org_id", "=", orgId).where("agent_id", "=", agentId);
    await trx.deleteFrom("messages").where("org_id", "=", orgId).where("conversation_id", "in", conversations).execute();
    await trx.deleteFrom("runs").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    await trx.deleteFrom("conversations").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    await trx.deleteFrom("memory_notes").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    await trx.deleteFrom("memory_history").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    await trx.deleteFrom("agent_skills").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    // Its schedules, with their tick claims (foreign key).
    await trx.deleteFrom("schedules").where("org_id", "=", orgId).where("agent_id", "=", agentId).execute();
    const result = await trx.deleteFrom("agents").where("org_id", "=", orgId).where("id", "=", agentId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  });
}
