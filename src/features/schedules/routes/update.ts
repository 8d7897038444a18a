import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors, jsonBody, jsonResponse } from "../../../http/openapi";
import { planOfOrg } from "../../agents/serialize";
import { checkSchedule } from "../cron";
import { type ScheduleChanges, findSchedule, updateSchedule } from "../repository";
import { ConversationId, Cron, Message, ScheduleParams, ScheduleSchema, TimeZone, checkConversation, scheduleAgent, serializeSchedule, tags } from "./schemas";

const Body = z
  .strictObject({ cron: Cron.optional(), timezone: TimeZone.optional(), message: Message.optional(), enabled: z.boolean().optional(), conversationId: ConversationId.nullable().optional() })
  .openapi("UpdateScheduleRequest");

const route = createRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules/{scheduleId}",
  tags,
  summary: "Change a schedule (its next tick is computed again from now)",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: ScheduleParams, body: jsonBody(Body) },
  responses: { 200: jsonResponse(ScheduleSchema, "The schedule"), ...commonErrors },
});

export function updateAgentSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const { agentId, scheduleId } = c.req.valid("param");
    const agent = await scheduleAgent(c, agentId, true);
    const body = c.req.valid("json");
    const existing = await findSchedule(services.db.kysely, access.orgId, agent.id, scheduleId);
    if (!existing) throw errors.notFound("Schedule", "scheduleId");
    const cron = body.cron ?? existing.cron;
    const timezone = body.timezone ?? existing.timezone;
    const enabled = body.enabled ?? existing.enabled === 1;
    const now = Date.now();
    const next = checkSchedule(cron, timezone, await planOfOrg(services.db.kysely, services.plans, access.orgId), now);
    if (body.conversationId) await checkConversation(c, agent.id, body.conversationId);
    const changes: ScheduleChanges = {
      cron,
      timezone,
      enabled: enabled ? 1 : 0,
      next_run_at: enabled ? next : null,
      updated_at: now,
      ...(body.message !== undefined ? { message: body.message } : {}),
      ...(body.conversationId !== undefined ? { conversation_id: body.conversationId } : {}),
    };
    if (!(await updateSchedule(services.db.kysely, access.orgId, agent.id, scheduleId, changes))) throw errors.notFound("Schedule", "scheduleId");
    return c.json(serializeSchedule({ ...existing, ...changes }), 200);
  });
}
