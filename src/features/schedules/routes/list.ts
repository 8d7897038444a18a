import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { requireVisibleAgent } from "../../agents/routes";
import { listSchedules } from "../repository";
import { AgentParams, ScheduleSchema, serializeSchedule, tags } from "./schemas";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules",
  operationId: "schedules.list",
  tags,
  summary: "The agent's schedules",
  description: "Every schedule of the agent, enabled or not, with its next tick and the outcome of its last one. 404 for an agent beyond a restricted key's agents.",
  request: { params: AgentParams },
  responses: { 200: jsonResponse(z.object({ data: z.array(ScheduleSchema) }), "Schedules") },
  permission: "read",
});

export function listAgentSchedules(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const agent = await requireVisibleAgent(c, c.var.access, c.req.valid("param").agentId);
    const rows = await listSchedules(c.var.services.db.kysely, c.var.access.orgId, agent.id);
    return c.json({ data: rows.map(serializeSchedule) }, 200);
  });
}
