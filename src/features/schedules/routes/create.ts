import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { SchedulesTable } from "../../../db/schema";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { jsonBody, jsonResponse } from "../../../http/openapi";
import { ERROR_STATUS_DESCRIPTIONS, orgRoute } from "../../../http/routes";
import { newId } from "../../../lib/ids";
import { requireVisibleAgent } from "../../agents/routes";
import { planOfOrg } from "../../agents/serialize";
import { checkSchedule } from "../cron";
import { insertScheduleWithinLimit } from "../repository";
import { AgentParams, ConversationId, Cron, Message, ScheduleSchema, TimeZone, checkConversation, serializeSchedule, tags } from "./schemas";

const Body = z
  .strictObject({ cron: Cron, timezone: TimeZone.default("UTC"), message: Message, enabled: z.boolean().default(true), conversationId: ConversationId.optional() })
  .openapi("CreateScheduleRequest");

const route = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/agents/{agentId}/schedules",
  operationId: "schedules.create",
  tags,
  summary: "Schedule the agent: each tick starts a background run with `message`, as the schedule's creator",
  description:
    "The plan limits the number of schedules and the shortest interval between ticks (README \"Schedules\"). 400 naming `cron` " +
    "when the expression is not five fields, never fires or fires more often than the plan allows, naming `timezone` for an unknown " +
    "IANA zone; 404 naming `conversationId` for a conversation that is not this agent's. Each tick is checked as the creator's own " +
    "request would be (permission, quota, concurrency); a refusal is kept in `lastError`.",
  request: { params: AgentParams, body: jsonBody(Body) },
  responses: { 201: jsonResponse(ScheduleSchema, "The schedule") },
  errors: { 403: `${ERROR_STATUS_DESCRIPTIONS[403]}; or the org's plan allows no more schedules (the message names the plan)` },
  permission: "write",
});

export function createSchedule(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { access, services } = c.var;
    const agent = await requireVisibleAgent(c, access, c.req.valid("param").agentId);
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
