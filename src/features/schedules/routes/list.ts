import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { commonErrors, jsonResponse } from "../../../http/openapi";
import { listSchedules } from "../repository";
import { AgentParams, ScheduleSchema, scheduleAgent, serializeSchedule, tags } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules",
  tags,
  summary: "The agent's schedules",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: AgentParams },
  responses: { 200: jsonResponse(z.object({ data: z.array(ScheduleSchema) }), "Schedules"), ...commonErrors },
});

export function listAgentSchedules(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const agent = await scheduleAgent(c, c.req.valid("param").agentId, false);
    const rows = await listSchedules(c.var.services.db.kysely, c.var.access.orgId, agent.id);
    return c.json({ data: rows.map(serializeSchedule) }, 200);
  });
}
