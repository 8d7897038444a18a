import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AgentsTable } from "../../db/schema";
import type { AppEnv, OrgAccess } from "../../http/context";
import { errors } from "../../http/errors";
import { PaginationQuery, createRouter, jsonBody, jsonResponse, OrgIdParam, paginated } from "../../http/openapi";
import { canSeeAgent } from "../../http/permissions";
import { orgRoute } from "../../http/routes";
import { newId } from "../../lib/ids";
import type { ModelInfo } from "../../runtime/models/catalogue";
import { type AgentChanges, deleteAgent, findAgent, insertAgentWithinLimit, listAgentsCached, updateAgent } from "./repository";
import { AgentParams, AgentSchema, CreateAgentBody, UpdateAgentBody } from "./schemas";
import { agentViews, planOfOrg, serializeAgent } from "./serialize";

const tags = ["Agents"];
const DEFAULT_TEMPERATURE = 0.7;

const createAgentRoute = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/agents",
  operationId: "agents.create",
  tags,
  summary: "Create an agent",
  description:
    "Needs write permission. 403 when the org's plan allows no more agents (the message names the plan), or when the API key is restricted to some agents.",
  request: { params: z.object({ orgId: OrgIdParam }), body: jsonBody(CreateAgentBody) },
  responses: { 201: jsonResponse(AgentSchema, "The new agent") },
  permission: "write",
});

const listAgentsRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents",
  operationId: "agents.list",
  tags,
  description: "Agents a key restricted to some agents may see are the only ones listed.",
  summary: "List the org's agents (newest first, paginated)",
  request: { params: z.object({ orgId: OrgIdParam }), query: PaginationQuery },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(AgentSchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "A page of agents",
    ),
  },
  permission: "read",
});

const getAgentRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}",
  operationId: "agents.get",
  tags,
  description: "Needs read permission. 404 for another org's agent or one beyond a restricted key's agents.",
  summary: "Get an agent, with its attached skills",
  request: { params: AgentParams },
  responses: { 200: jsonResponse(AgentSchema, "The agent") },
  permission: "read",
});

const updateAgentRoute = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/agents/{agentId}",
  operationId: "agents.update",
  tags,
  description: "Needs write permission. Fields not sent keep their values; `model` must be one a configured provider serves (400 otherwise).",
  summary: "Update an agent (only the fields sent change)",
  request: { params: AgentParams, body: jsonBody(UpdateAgentBody) },
  responses: { 200: jsonResponse(AgentSchema, "The agent") },
  permission: "write",
});

const deleteAgentRoute = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{agentId}",
  operationId: "agents.delete",
  tags,
  summary: "Delete an agent with its memory, conversations, skill links and runs (usage records stay)",
  description:
    "Needs write permission. Removes the agent's memory, conversations, skill links and runs; its usage records stay for billing.",
  request: { params: AgentParams },
  responses: { 204: { description: "Deleted" } },
  permission: "write",
});

/**
 * The catalogue entry of a model id (a model a configured provider serves counts, priced or not),
 * or a 400 listing the ids that can run here (all of them when none can yet).
 */
async function requireModel(c: Context<AppEnv>, id: string): Promise<ModelInfo> {
  const { models } = c.var.services;
  const model = await models.resolve(id);
  if (!model) {
    const runnable = models.list().filter((m) => m.available);
    const ids = (runnable.length ? runnable : models.list()).map((m) => m.id);
    throw errors.invalid(`Unknown model "${id}": no provider of this deployment serves it. ${runnable.length ? "Models that can run here" : "Known models"}: ${ids.join(", ")}.`, "model");
  }
  return model;
}

/**
 * `approvalRequired` as stored: each entry "*" or one of the agent's enabled tools (a 400 naming
 * `approvalRequired[i]` otherwise), duplicates removed.
 */
function approvalRequiredOf(names: string[], enabledTools: string[]): string {
  const enabled = new Set(enabledTools);
  names.forEach((name, i) => {
    if (name !== "*" && !enabled.has(name)) {
      throw errors.invalid(
        `"${name}" is not one of the agent's tools (enabledTools: ${enabledTools.length ? enabledTools.join(", ") : "none"}); use a tool name or "*".`,
        `approvalRequired[${i}]`,
      );
    }
  });
  return JSON.stringify([...new Set(names)]);
}

/** An agent the caller may see, or 404 (another org's agent, or one outside a restricted key's list). */
export async function requireVisibleAgent(c: Context<AppEnv>, access: OrgAccess, agentId: string): Promise<AgentsTable> {
  const agent = canSeeAgent(access, agentId) ? await findAgent(c.var.services.db.kysely, access.orgId, agentId) : undefined;
  if (!agent) throw errors.notFound("Agent", "agentId");
  return agent;
}

/** Agents: create (within the plan's cap), list, get, partial update, delete with everything attached. */
export function agentRoutes() {
  const app = createRouter();

  app.openapi(createAgentRoute, async (c) => {
    const { access, services } = c.var;
    if (access.agentIds) throw errors.forbidden("An API key restricted to some agents cannot create agents.", "key_restricted");
    const body = c.req.valid("json");
    const model = await requireModel(c, body.model);
    const plan = await planOfOrg(services.db.kysely, services.plans, access.orgId);
    const approvalRequired = approvalRequiredOf(body.approvalRequired, body.enabledTools);
    const now = Date.now();
    const agent: AgentsTable = {
      id: newId("ag"),
      org_id: access.orgId,
      name: body.name,
      description: body.description ?? null,
      system_prompt: body.systemPrompt,
      model: model.id,
      temperature: body.temperature ?? model.defaultTemperature ?? DEFAULT_TEMPERATURE,
      max_iterations: body.maxIterations,
      enabled_tools: JSON.stringify([...new Set(body.enabledTools)]),
      metadata: JSON.stringify(body.metadata),
      approval_required: approvalRequired,
      created_at: now,
      updated_at: now,
    };
    if (!(await insertAgentWithinLimit(services.db.kysely, agent, plan.maxAgents))) {
      throw errors.forbidden(`The ${plan.name} plan allows at most ${plan.maxAgents} agents; delete one or upgrade the plan.`, "agent_limit_reached");
    }
    return c.json(serializeAgent(agent, plan, [], services.tools.unavailable()), 201);
  });

  app.openapi(listAgentsRoute, async (c) => {
    const { access, services } = c.var;
    const { page, limit } = c.req.valid("query");
    const { rows, total } = await listAgentsCached(services.db, access.orgId, { agentIds: access.agentIds, limit, offset: (page - 1) * limit });
    return c.json(paginated(await agentViews(services, access.orgId, rows), page, limit, total), 200);
  });

  app.openapi(getAgentRoute, async (c) => {
    const { access, services } = c.var;
    const agent = await requireVisibleAgent(c, access, c.req.valid("param").agentId);
    const [view] = await agentViews(services, access.orgId, [agent]);
    return c.json(view, 200);
  });

  app.openapi(updateAgentRoute, async (c) => {
    const { access, services } = c.var;
    const agent = await requireVisibleAgent(c, access, c.req.valid("param").agentId);
    const body = c.req.valid("json");
    const changes: AgentChanges = {};
    if (body.name !== undefined) changes.name = body.name;
    if (body.description !== undefined) changes.description = body.description;
    if (body.systemPrompt !== undefined) changes.system_prompt = body.systemPrompt;
    if (body.model !== undefined) changes.model = (await requireModel(c, body.model)).id;
    if (body.temperature !== undefined) changes.temperature = body.temperature;
    if (body.maxIterations !== undefined) changes.max_iterations = body.maxIterations;
    if (body.enabledTools !== undefined) changes.enabled_tools = JSON.stringify([...new Set(body.enabledTools)]);
    if (body.metadata !== undefined) changes.metadata = JSON.stringify(body.metadata);
    if (body.approvalRequired !== undefined || body.enabledTools !== undefined) {
      // Checked against the tools the agent has after this change: disabling a tool that needs an approval is refused until the approval list drops it too.
      const tools = JSON.parse(changes.enabled_tools ?? agent.enabled_tools) as string[];
      changes.approval_required = approvalRequiredOf(body.approvalRequired ?? (JSON.parse(agent.approval_required) as string[]), tools);
    }
    const db = services.db.kysely;
    let updated = agent;
    if (Object.keys(changes).length > 0) {
      // Strictly after the previous value, so a client comparing updatedAt always sees the change.
      const now = Math.max(Date.now(), agent.updated_at + 1);
      const after = await updateAgent(db, access.orgId, agent.id, changes, now);
      if (!after) throw errors.notFound("Agent", "agentId");
      updated = after;
    }
    const [view] = await agentViews(services, access.orgId, [updated]);
    return c.json(view, 200);
  });

  app.openapi(deleteAgentRoute, async (c) => {
    const { access, services } = c.var;
    const { agentId } = c.req.valid("param");
    if (!canSeeAgent(access, agentId) || !(await deleteAgent(services.db.kysely, access.orgId, agentId))) {
      throw errors.notFound("Agent", "agentId");
    }
    return c.body(null, 204);
  });

  return app;
}
