import { createRoute } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors } from "../../../http/openapi";
import { deleteSchedule } from "../repository";
import { ScheduleParams, scheduleAgent, tags } from "./schemas";

const route = createRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules/{scheduleId}",
  tags,
  summary: "Remove a schedule (runs it started stay)",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: ScheduleParams },
  responses: { 204: { description: "Removed" }, ...commonErrors },
});

export function deleteAgentSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { agentId, scheduleId } = c.req.valid("param");
    const agent = await scheduleAgent(c, agentId, true);
    if (!(await deleteSchedule(c.var.services.db.kysely, c.var.access.orgId, agent.id, scheduleId))) throw errors.notFound("Schedule", "scheduleId");
    return c.body(null, 204);
  });
}
