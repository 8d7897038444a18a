import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonBody, jsonResponse } from "../../../http/openapi";
import { orgRoute } from "../../../http/routes";
import { requireVisibleAgent } from "../../agents/routes";
import { planOfOrg } from "../../agents/serialize";
import { checkSchedule } from "../cron";
import { type ScheduleChanges, findSchedule, updateSchedule } from "../repository";
import { ConversationId, Cron, Message, ScheduleParams, ScheduleSchema, TimeZone, checkConversation, serializeSchedule, tags } from "./schemas";

const Body = z
  .strictObject({ cron: Cron.optional(), timezone: TimeZone.optional(), message: Message.optional(), enabled: z.boolean().optional(), conversationId: ConversationId.nullable().optional() })
  .openapi("UpdateScheduleRequest");

const route = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules/{scheduleId}",
  operationId: "schedules.update",
  tags,
  summary: "Change a schedule (its next tick is computed again from now)",
  description:
    "Only the fields sent change; the expression (sent or kept) is checked again against the org's current plan, so a schedule " +
    "a downgrade made too frequent answers 400 naming `cron` to any change (disabling included) until its `cron` is slowed; it can " +
    "still be deleted. `conversationId: null` makes " +
    "each tick start a new conversation; a conversation that is not this agent's is 404 naming `conversationId`. The schedule still " +
    "runs as its creator, whoever changes it.",
  request: { params: ScheduleParams, body: jsonBody(Body) },
  responses: { 200: jsonResponse(ScheduleSchema, "The schedule") },
  permission: "write",
});

export function updateAgentSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const { agentId, scheduleId } = c.req.valid("param");
    const agent = await requireVisibleAgent(c, access, agentId);
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
