import type { Kysely, Transaction } from "kysely";
import type { Db } from "../../db";
import type { Database, SkillsTable } from "../../db/schema";
import { findBuiltinSkill, isBuiltinSkillId } from "./builtin";
import { type PreparedQuery, prepare } from "../../db/prepared";

type Executor = Kysely<Database> | Transaction<Database>;

/** A skill as the prompt builder and the API need it, built-in or custom. */
export interface ResolvedSkill {
  id: string;
  name: string;
  description: string;
  content: string;
  files: Array<{ name: string; content: string }>;
  builtIn: boolean;
}

/** What an agent response shows of each attached skill. */
export interface SkillSummary {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
}

/** The org's custom skills, oldest first. */
export function listCustomSkills(db: Executor, orgId: string): Promise<SkillsTable[]> {
  return db.selectFrom("skills").selectAll().where("org_id", "=", orgId).orderBy("created_at").orderBy("id").execute();
}

export function findCustomSkill(db: Executor, orgId: string, skillId: string): Promise<SkillsTable | undefined> {
  return db.selectFrom("skills").selectAll().where("org_id", "=", orgId).where("id", "=", skillId).executeTakeFirst();
}

export async function insertSkill(db: Executor, skill: SkillsTable): Promise<void> {
  await db.insertInto("skills").values(skill).execute();
}

/** Applies a partial update; returns the row after it, or undefined when the org has no such skill. */
export async function updateSkill(
  db: Executor,
  orgId: string,
  skillId: string,
  changes: Partial<Pick<SkillsTable, "name" | "description" | "content" | "files">>,
  now: number,
): Promise<SkillsTable | undefined> {
  await db
    .updateTable("skills")
    .set({ ...changes, updated_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", skillId)
    .execute();
  return findCustomSkill(db, orgId, skillId);
}

/** Deletes a custom skill and detaches it from every agent, in one transaction; false when there is no such skill. */
export function deleteSkill(db: Kysely<Database>, orgId: string, skillId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom("agent_skills").where("org_id", "=", orgId).where("skill_id", "=", skillId).execute();
    const result = await trx.deleteFrom("skills").where("org_id", "=", orgId).where("id", "=", skillId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  });
}

/** Attaches a skill to an agent; attaching twice is a no-op (the first attachment keeps its place). */
export async function attachSkill(db: Executor, orgId: string, agentId: string, skillId: string, now: number): Promise<void> {
  await db
    .insertInto("agent_skills")
    .values({ org_id: orgId, agent_id: agentId, skill_id: skillId, created_at: now })
    .onConflict((oc) => oc.columns(["agent_id", "skill_id"]).doNothing())
    .execute();
}

/** Detaches a skill; false when it was not attached. */
export async function detachSkill(db: Executor, orgId: string, agentId: string, skillId: string): Promise<boolean> {
  const result = await db
    .deleteFrom("agent_skills")
    .where("org_id", "=", orgId)
    .where("agent_id", "=", agentId)
    .where("skill_id", "=", skillId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * The links of n agents, prepared per n (src/db/prepared.ts), since an `in` list's length is part
 * of the SQL: one agent's for every run and agent read, a page's for the agent list (building
 * that query per request was ~50 µs of a five-agent list's CPU). Pages hold at most 100 agents;
 * a longer list (no caller makes one today) is built per call, not kept.
 */
const MAX_PREPARED_LINKS = 100;
type AgentSkillLink = { agent_id: string; skill_id: string };
const linksOfAgentsByCount = new Map<number, PreparedQuery<string[], AgentSkillLink>>();
/** The query with its values, or with placeholders for them. */
const linksOfAgentsQuery = (db: Executor, orgId: string, agentIds: readonly string[]) =>
  db
    .selectFrom("agent_skills")
    .select(["agent_id", "skill_id"])
    .where("org_id", "=", orgId)
    .where("agent_id", "in", [...agentIds])
    .orderBy("created_at")
    .orderBy("skill_id");
function preparedLinks(count: number): PreparedQuery<string[], AgentSkillLink> {
  let query = linksOfAgentsByCount.get(count);
  if (!query) {
    query = prepare((k, p) => linksOfAgentsQuery(k, p(0), Array.from({ length: count }, (_, i) => p(i + 1))));
    linksOfAgentsByCount.set(count, query);
  }
  return query;
}
// One agent's links: prepared at load, so src/db/query-plans.test.ts checks its plan.
preparedLinks(1);
function linksOfAgents(db: Executor, orgId: string, agentIds: readonly string[]): Promise<AgentSkillLink[]> {
  if (agentIds.length > MAX_PREPARED_LINKS) return linksOfAgentsQuery(db, orgId, agentIds).execute();
  return preparedLinks(agentIds.length).rows(db, [orgId, ...agentIds]);
}

/**
 * The attachments of some agents, each resolved to its skill, in attachment order (then id, for
 * ties). Built-ins come from the repo's files; an attachment whose skill no longer exists is
 * skipped. `withContent` false reads only names and descriptions (a page of agents stays cheap).
 */
async function resolveAttachments(
  db: Executor,
  orgId: string,
  agentIds: readonly string[],
  withContent: boolean,
): Promise<Map<string, ResolvedSkill[]>> {
  const out = new Map<string, ResolvedSkill[]>(agentIds.map((id) => [id, []]));
  if (agentIds.length === 0) return out;
  const links = await linksOfAgents(db, orgId, agentIds);
  const customIds = [...new Set(links.map((l) => l.skill_id).filter((id) => !isBuiltinSkillId(id)))];
  const custom = new Map<string, ResolvedSkill>();
  if (customIds.length > 0) {
    const base = db.selectFrom("skills").where("org_id", "=", orgId).where("id", "in", customIds);
    const rows = withContent
      ? (await base.select(["id", "name", "description", "content", "files"]).execute()).map((r) => ({
          ...r,
          files: JSON.parse(r.files) as ResolvedSkill["files"],
        }))
      : (await base.select(["id", "name", "description"]).execute()).map((r) => ({ ...r, content: "", files: [] }));
    for (const row of rows) custom.set(row.id, { ...row, builtIn: false });
  }
  for (const link of links) {
    const builtin = isBuiltinSkillId(link.skill_id) ? findBuiltinSkill(link.skill_id) : undefined;
    const skill = builtin ? { ...builtin, builtIn: true } : custom.get(link.skill_id);
    if (skill) out.get(link.agent_id)?.push(skill);
  }
  return out;
}

/** `skillSummariesOfAgents` through the read cache (src/db/read-cache.ts): read again only after a skill or a link is written. */
export async function skillSummariesOfAgentsCached(db: Db, orgId: string, agentIds: readonly string[]): Promise<Map<string, SkillSummary[]>> {
  // Cached as entries, not as the Map (a Map cannot be frozen); a page's Map is made per request.
  const entries = await db.reads.get(orgId, `skills ${agentIds.join(",")}`, ["agent_skills", "skills"], async () => [
    ...(await skillSummariesOfAgents(db.kysely, orgId, agentIds)),
  ]);
  return new Map(entries);
}

/**
 * The skills attached to an agent, in a stable order (attachment time, then id), with their
 * content and companion files: what the prompt builder injects into a run's system prompt.
 */
export async function listAgentSkills(
  db: Executor,
  orgId: string,
  agentId: string,
): Promise<Array<{ id: string; name: string; description: string; content: string; files: Array<{ name: string; content: string }> }>> {
  const skills = (await resolveAttachments(db, orgId, [agentId], true)).get(agentId) ?? [];
  return skills.map(({ id, name, description, content, files }) => ({ id, name, description, content, files }));
}

/** Summaries of the skills attached to each of some agents (one query for a whole page of agents). */
export async function skillSummariesOfAgents(
  db: Executor,
  orgId: string,
  agentIds: readonly string[],
): Promise<Map<string, SkillSummary[]>> {
  const resolved = await resolveAttachments(db, orgId, agentIds, false);
  return new Map(
    [...resolved].map(([agentId, skills]) => [
      agentId,
      skills.map(({ id, name, description, builtIn }) => ({ id, name, description, builtIn })),
    ]),
  );
}
