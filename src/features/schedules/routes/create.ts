import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { SchedulesTable } from "../../../db/schema";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { commonErrors, jsonBody, jsonResponse } from "../../../http/openapi";
import { newId } from "../../../lib/ids";
import { planOfOrg } from "../../agents/serialize";
import { checkSchedule } from "../cron";
import { insertScheduleWithinLimit } from "../repository";
import { AgentParams, ConversationId, Cron, Message, ScheduleSchema, TimeZone, checkConversation, scheduleAgent, serializeSchedule, tags } from "./schemas";

const Body = z
  .strictObject({ cron: Cron, timezone: TimeZone.default("UTC"), message: Message, enabled: z.boolean().default(true), conversationId: ConversationId.optional() })
  .openapi("CreateScheduleRequest");

const route = createRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules",
  tags,
  summary: "Schedule the agent: each tick starts a background run with `message`, as the schedule's creator",
  description: "The plan limits the number of schedules and the shortest interval between ticks (README \"Schedules\").",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: AgentParams, body: jsonBody(Body) },
  responses: { 201: jsonResponse(ScheduleSchema, "The schedule"), ...commonErrors },
});

export function createSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const agent = await scheduleAgent(c, c.req.valid("param").agentId, true);
    const body = c.req.valid("json");
    const plan = await planOfOrg(services.db.kysely, services.plans, access.orgId);
    const now = Date.now();
    const next = checkSchedule(body.cron, body.timezone, plan, now);
    if (body.conversationId) await checkConversation(c, agent.id, body.conversationId);
    const principal = access.principal;
    const row: SchedulesTable = {
      id: newId("sch"),
      org_id: access.orgId,
      agent_id: agent.id,
      cron: body.cron,
      timezone: body.timezone,
      message: body.message,
      enabled: body.enabled ? 1 : 0,
      conversation_id: body.conversationId ?? null,
      api_key_id: principal.kind === "key" ? principal.keyId : null,
      user_id: principal.kind === "user" ? principal.userId : null,
      next_run_at: body.enabled ? next : null,
      last_run_at: null,
      last_run_id: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    };
    if (!(await insertScheduleWithinLimit(services.db.kysely, row, plan.maxSchedules))) {
      throw errors.forbidden(`The ${plan.name} plan allows at most ${plan.maxSchedules} schedules; delete one or upgrade the plan.`);
    }
    return c.json(serializeSchedule(row), 201);
  });
}
