import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { orgRoute } from "../../../http/routes";
import { requireVisibleAgent } from "../../agents/routes";
import { deleteSchedule } from "../repository";
import { ScheduleParams, tags } from "./schemas";

const route = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules/{scheduleId}",
  operationId: "schedules.delete",
  tags,
  summary: "Remove a schedule (runs it started stay)",
  description: "No further ticks fire; runs the schedule already started stay, and go on if they are still running.",
  request: { params: ScheduleParams },
  responses: { 204: { description: "Removed" } },
  permission: "write",
});

export function deleteAgentSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { agentId, scheduleId } = c.req.valid("param");
    const agent = await requireVisibleAgent(c, c.var.access, agentId);
    if (!(await deleteSchedule(c.var.services.db.kysely, c.var.access.orgId, agent.id, scheduleId))) throw errors.notFound("Schedule", "scheduleId");
    return c.body(null, 204);
  });
}
