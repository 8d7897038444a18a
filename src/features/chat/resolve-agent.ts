import type { Context } from "hono";
import type { AgentsTable } from "../../db/schema";
import { resolveOrgAccess } from "../../http/auth";
import type { AppEnv, OrgAccess, Principal } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { canSeeAgent, requirePermission } from "../../http/permissions";
import { findAgentCached } from "../agents/repository";

/**
 * Finds the agent the caller may chat with, and what the caller may do in its org. Keys look only
 * in their own org; users only in orgs they belong to. Anything else is 404 naming `param`, never
 * revealing that the agent exists elsewhere. Shared by every surface that starts runs by agent id.
 */
export async function resolveChatAgent(c: Context<AppEnv>, agentId: string, param = "agentId"): Promise<{ agent: AgentsTable; access: OrgAccess }> {
  const { db } = c.var.services;
  const principal = c.var.principal as Principal;
  let orgId: string | undefined;
  if (principal.kind === "key") orgId = principal.orgId;
  else {
    // Cross-tenant on purpose: which of the user's orgs holds the agent (none of the others is revealed).
    const row = await db.kysely
      .selectFrom("agents")
      .innerJoin("memberships", "memberships.org_id", "agents.org_id")
      .select("agents.org_id")
      .where("agents.id", "=", agentId)
      .where("memberships.user_id", "=", principal.userId)
      .executeTakeFirst();
    orgId = row?.org_id;
  }
  if (!orgId) throw errors.notFound("Agent", param);
  let access: OrgAccess;
  try {
    access = await resolveOrgAccess(c, principal, orgId);
  } catch (error) {
    if (error instanceof ApiError && error.type === "not_found_error") throw errors.notFound("Agent", param);
    throw error;
  }
  const agent = await findAgentCached(db, orgId, agentId);
  if (!agent || !canSeeAgent(access, agentId)) throw errors.notFound("Agent", param);
  requirePermission(access, "chat");
  return { agent, access };
}
