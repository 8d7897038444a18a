import { createRoute } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors, jsonResponse } from "../../../http/openapi";
import { findSchedule } from "../repository";
import { ScheduleParams, ScheduleSchema, scheduleAgent, serializeSchedule, tags } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules/{scheduleId}",
  tags,
  summary: "A schedule, with its next tick and its last run",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: ScheduleParams },
  responses: { 200: jsonResponse(ScheduleSchema, "The schedule"), ...commonErrors },
});

export function getSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { agentId, scheduleId } = c.req.valid("param");
    const agent = await scheduleAgent(c, agentId, false);
    const row = await findSchedule(c.var.services.db.kysely, c.var.access.orgId, agent.id, scheduleId);
    if (!row) throw errors.notFound("Schedule", "scheduleId");
    return c.json(serializeSchedule(row), 200);
  });
}
