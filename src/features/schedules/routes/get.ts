import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { requireVisibleAgent } from "../../agents/routes";
import { findSchedule } from "../repository";
import { ScheduleParams, ScheduleSchema, serializeSchedule, tags } from "./schemas";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules/{scheduleId}",
  operationId: "schedules.get",
  tags,
  summary: "A schedule, with its next tick and its last run",
  description: "`lastError` says why the last tick started no run (quota, the creator's access gone, the queue full); null when it started one.",
  request: { params: ScheduleParams },
  responses: { 200: jsonResponse(ScheduleSchema, "The schedule") },
  permission: "read",
});

export function getSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { agentId, scheduleId } = c.req.valid("param");
    const agent = await requireVisibleAgent(c, c.var.access, agentId);
    const row = await findSchedule(c.var.services.db.kysely, c.var.access.orgId, agent.id, scheduleId);
    if (!row) throw errors.notFound("Schedule", "scheduleId");
    return c.json(serializeSchedule(row), 200);
  });
}
