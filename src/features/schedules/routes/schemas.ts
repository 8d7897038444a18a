import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { SchedulesTable } from "../../../db/schema";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { OrgIdParam, PathId, iso } from "../../../http/openapi";
import { findConversation } from "../../conversations/repository";

export const tags = ["Schedules"];

export const AgentParams = z.object({ orgId: OrgIdParam, agentId: PathId("agentId", "ag_4f9Kq2") });
export const ScheduleParams = AgentParams.extend({ scheduleId: PathId("scheduleId", "sch_4f9Kq2") });

export const Cron = z.string().trim().min(1).max(200).openapi({ example: "0 9 * * 1-5", description: "Five fields: minute hour day-of-month month day-of-week" });
export const TimeZone = z.string().min(1).max(64).openapi({ example: "Europe/Berlin", description: "IANA time zone the expression is read in (default UTC)" });
export const Message = z.string().min(1, { message: "Must not be empty." }).max(100_000);
export const ConversationId = PathId("conversationId").openapi({ description: "Every tick continues this conversation; without it each tick starts a new one" });

export const ScheduleSchema = z
  .object({
    id: z.string().openapi({ example: "sch_4f9Kq2" }),
    agentId: z.string(),
    cron: z.string(),
    timezone: z.string(),
    message: z.string(),
    enabled: z.boolean(),
    conversationId: z.string().nullable(),
    nextRunAt: z.string().nullable().openapi({ description: "The next tick (null while disabled)" }),
    lastRunAt: z.string().nullable(),
    lastRunId: z.string().nullable(),
    lastError: z.string().nullable().openapi({ description: "Why the last tick started no run (quota, access), null when it did" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Schedule");

export function serializeSchedule(row: SchedulesTable) {
  const time = (v: number | null) => iso(v === null ? null : Number(v));
  return {
    id: row.id,
    agentId: row.agent_id,
    cron: row.cron,
    timezone: row.timezone,
    message: row.message,
    enabled: row.enabled === 1,
    conversationId: row.conversation_id,
    nextRunAt: time(row.next_run_at),
    lastRunAt: time(row.last_run_at),
    lastRunId: row.last_run_id,
    lastError: row.last_error,
    createdAt: iso(Number(row.created_at)),
    updatedAt: iso(Number(row.updated_at)),
  };
}

/** 404 naming `conversationId` unless it is a conversation of this agent. */
export async function checkConversation(c: Context<AppEnv>, agentId: string, conversationId: string): Promise<void> {
  if (!(await findConversation(c.var.services.db.kysely, c.var.access.orgId, agentId, conversationId))) throw errors.notFound("Conversation", "conversationId");
}
