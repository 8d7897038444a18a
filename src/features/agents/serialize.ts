import type { Kysely } from "kysely";
import type { AgentsTable, Database } from "../../db/schema";
import { iso } from "../../http/openapi";
import type { Plan, PlanTable } from "../billing/plans";
import { findOrg, findOrgCached } from "../orgs/repository";
import { effectivePlan } from "../billing/period";
import { unavailableTools } from "../../runtime/tools/names";
import type { UnavailableTool } from "../../runtime/tools/types";
import type { Services } from "../../services";
import { type SkillSummary, skillSummariesOfAgentsCached } from "../skills/repository";

/** An agent as the API returns it. */
export function serializeAgent(agent: AgentsTable, plan: Plan, skills: SkillSummary[], deploymentUnavailable: UnavailableTool[]) {
  const enabledTools = JSON.parse(agent.enabled_tools) as string[];
  return {
    id: agent.id,
    name: agent.name,
    description: agent.description,
    systemPrompt: agent.system_prompt,
    model: agent.model,
    temperature: agent.temperature,
    maxIterations: agent.max_iterations,
    enabledTools,
    unavailableTools: unavailableTools(enabledTools, plan.toolTier, plan.name, deploymentUnavailable),
    metadata: JSON.parse(agent.metadata) as Record<string, unknown>,
    approvalRequired: JSON.parse(agent.approval_required) as string[],
    skills,
    createdAt: iso(agent.created_at),
    updatedAt: iso(agent.updated_at),
  };
}

/** The plan an org is on (the default plan if the org row is gone mid-request). */
export async function planOfOrg(db: Kysely<Database>, plans: PlanTable, orgId: string): Promise<Plan> {
  const org = await findOrg(db, orgId);
  return org ? effectivePlan(org, plans, Date.now()) : plans.get(plans.defaultPlanId);
}

/**
 * Serializes agents of one org with their plan filtering and attached skills: two queries,
 * whatever the count, answered from the read cache until the org, a skill or a link is written.
 */
export async function agentViews(services: Pick<Services, "db" | "plans" | "tools">, orgId: string, agents: readonly AgentsTable[]) {
  const [org, skills] = await Promise.all([
    findOrgCached(services.db, orgId),
    skillSummariesOfAgentsCached(
      services.db,
      orgId,
      agents.map((a) => a.id),
    ),
  ]);
  // The effective plan depends on the time (a trial or a cancellation ends), so it is worked out per request.
  const plan = org ? effectivePlan(org, services.plans, Date.now()) : services.plans.get(services.plans.defaultPlanId);
  const missing = services.tools.unavailable();
  return agents.map((a) => serializeAgent(a, plan, skills.get(a.id) ?? [], missing));
}
