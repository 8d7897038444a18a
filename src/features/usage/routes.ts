import { z } from "@hono/zod-openapi";
import type { UsageRecordsTable } from "../../db/schema";
import type { OrgAccess } from "../../http/context";
import { errors } from "../../http/errors";
import { createRouter, iso, jsonResponse, OrgIdParam, PaginationQuery, paginated } from "../../http/openapi";
import { findOrg } from "../orgs/repository";
import { DAY_MS, calendarMonth, currentPeriod, floorDay } from "../billing/period";
import { type UsageFilter, agentNames, aggregateUsage, listUsage, recentUsage } from "./repository";
import { orgRoute } from "../../http/routes";

const tags = ["Usage"];

/** Longest range a summary covers (its daily series has one entry per day). */
const MAX_SUMMARY_DAYS = 400;

const UsageRecordSchema = z
  .object({
    id: z.string(),
    agentId: z.string(),
    conversationId: z.string(),
    runId: z.string(),
    parentRunId: z.string().nullable(),
    apiKeyId: z.string().nullable(),
    userId: z.string().nullable(),
    scheduleId: z.string().nullable().openapi({ description: "The schedule whose tick started the run, if any" }),
    model: z.string(),
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheReadTokens: z.number(),
    cacheWriteTokens: z.number(),
    tokens: z.number(),
    cost: z.number().openapi({ description: "USD" }),
    iterations: z.number(),
    toolCalls: z.number(),
    status: z.string(),
    durationMs: z.number(),
    createdAt: z.string(),
  })
  .openapi("UsageRecord");

const DateParam = z
  .string()
  .max(40)
  .optional()
  .openapi({ description: "ISO date (YYYY-MM-DD, UTC) or date-time. A date `to` includes that whole day.", example: "2025-01-31" });

const Params = z.object({ orgId: OrgIdParam });

const listRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/usage",
  operationId: "usage.list",
  tags,
  summary: "List usage records, newest first",
  request: {
    params: Params,
    query: PaginationQuery.extend({ agentId: z.string().min(1).max(64).optional(), from: DateParam, to: DateParam }),
  },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(UsageRecordSchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "A page of usage records",
    ),
  },
  permission: "read",
});

const Totals = z.object({ runs: z.number(), tokens: z.number(), cost: z.number() });

const summaryRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/usage/summary",
  operationId: "usage.summary",
  tags,
  summary: "Aggregates of the billing period to date (or of from/to)",
  request: { params: Params, query: z.object({ from: DateParam, to: DateParam }) },
  responses: {
    200: jsonResponse(
      z
        .object({
          period: z.object({ from: z.string(), to: z.string() }),
          totals: Totals.extend({ inputTokens: z.number(), outputTokens: z.number(), toolCalls: z.number() }),
          activeAgents: z.number(),
          topAgents: z.array(Totals.extend({ agentId: z.string(), name: z.string() })),
          recentActivity: z.array(UsageRecordSchema),
          daily: z.array(Totals.extend({ date: z.string() })),
        })
        .openapi("UsageSummary"),
      "Usage summary",
    ),
  },
  permission: "read",
});

/** The public shape of a usage record (DESIGN.md §2 "Usage record", plus parentRunId). */
export function serializeUsageRecord(r: UsageRecordsTable) {
  return {
    id: r.id,
    agentId: r.agent_id,
    conversationId: r.conversation_id,
    runId: r.run_id,
    parentRunId: r.parent_run_id,
    apiKeyId: r.api_key_id,
    userId: r.user_id,
    scheduleId: r.schedule_id ?? null,
    model: r.model,
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cacheReadTokens: Number(r.cache_read_tokens),
    cacheWriteTokens: Number(r.cache_write_tokens),
    tokens: Number(r.tokens),
    cost: Number(r.cost),
    iterations: r.iterations,
    toolCalls: r.tool_calls,
    status: r.status,
    durationMs: Number(r.duration_ms),
    createdAt: iso(Number(r.created_at)),
  };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/i;

function validCalendarDate(y: string, m: string, d: string): boolean {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(m) - 1 && date.getUTCDate() === Number(d);
}

/**
 * Parses a `from`/`to` value into epoch ms: `{ start, end }` of the instant or day it names
 * (end exclusive). A date-time without an offset is UTC.
 */
export function parseDateParam(value: string, param: string): { start: number; end: number } {
  const bad = () => errors.invalid(`Invalid ${param}: expected an ISO date (2025-01-31) or date-time (2025-01-31T12:00:00Z).`, param);
  const date = DATE.exec(value);
  if (date) {
    if (!validCalendarDate(date[1], date[2], date[3])) throw bad();
    const start = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
    return { start, end: start + DAY_MS };
  }
  const dt = DATE_TIME.exec(value);
  if (!dt || !validCalendarDate(dt[1], dt[2], dt[3]) || Number(dt[4]) > 23 || Number(dt[5]) > 59 || Number(dt[6] ?? 0) > 59) throw bad();
  const ms = Date.parse(dt[7] ? value : `${value}Z`);
  if (Number.isNaN(ms)) throw bad();
  return { start: ms, end: ms + 1 };
}

/** The [from, to) range of the query, or null bounds where absent; 400 when from is after to. */
function parseRange(query: { from?: string; to?: string }): { from: number | null; to: number | null } {
  const from = query.from === undefined ? null : parseDateParam(query.from, "from").start;
  const to = query.to === undefined ? null : parseDateParam(query.to, "to").end;
  if (from !== null && to !== null && from >= to) throw errors.invalid("from must not be after to.", "from");
  return { from, to };
}

/** The agents the caller may see, narrowed by an agentId filter: null = all, [] = none. */
function visibleAgents(access: OrgAccess, agentId?: string): string[] | null {
  if (agentId === undefined) return access.agentIds;
  if (access.agentIds && !access.agentIds.includes(agentId)) return [];
  return [agentId];
}

/** Rounds USD sums so floating-point noise (0.30000000000000004) does not reach clients. */
const usd = (n: number) => Math.round(n * 1e8) / 1e8;

/** Usage records and their summary. */
export function usageRoutes() {
  const app = createRouter();

  app.openapi(listRoute, async (c) => {
    const { access, services } = c.var;
    const query = c.req.valid("query");
    const range = parseRange(query);
    const agentIds = visibleAgents(access, query.agentId);
    if (agentIds?.length === 0) return c.json(paginated([], query.page, query.limit, 0), 200);
    const filter: UsageFilter = { orgId: access.orgId, agentIds, ...range };
    const { data, total } = await listUsage(services.db.kysely, filter, query.page, query.limit);
    return c.json(paginated(data.map(serializeUsageRecord), query.page, query.limit, total), 200);
  });

  app.openapi(summaryRoute, async (c) => {
    const { access, services } = c.var;
    const query = c.req.valid("query");
    const db = services.db.kysely;
    const org = await findOrg(db, access.orgId);
    if (!org) throw errors.notFound("Organization");
    const now = Date.now();
    const range = parseRange(query);
    const from = range.from ?? (range.to === null ? currentPeriod(org, now).start : calendarMonth(range.to - 1).start);
    const to = range.to ?? Math.max(now + 1, from + 1);
    if (from >= to) throw errors.invalid("from must not be after to.", "from");
    if (to - from > MAX_SUMMARY_DAYS * DAY_MS) throw errors.invalid(`A summary covers at most ${MAX_SUMMARY_DAYS} days.`, "from");

    const agentIds = visibleAgents(access);
    const filter: UsageFilter = { orgId: access.orgId, agentIds, from, to };
    const empty = agentIds?.length === 0;
    const [aggregates, recent] = empty
      ? [{ byAgent: new Map(), byDay: new Map() }, []]
      : await Promise.all([aggregateUsage(db, filter), recentUsage(db, filter, 10)]);

    const totals = { runs: 0, tokens: 0, inputTokens: 0, outputTokens: 0, cost: 0, toolCalls: 0 };
    for (const t of aggregates.byAgent.values()) {
      totals.runs += t.runs;
      totals.tokens += t.tokens;
      totals.inputTokens += t.inputTokens;
      totals.outputTokens += t.outputTokens;
      totals.cost += t.cost;
      totals.toolCalls += t.toolCalls;
    }
    const active = [...aggregates.byAgent.entries()].filter(([, t]) => t.runs > 0);
    const top = active.sort(([ia, a], [ib, b]) => b.cost - a.cost || b.tokens - a.tokens || (ia < ib ? -1 : 1)).slice(0, 5);
    const names = await agentNames(
      db,
      access.orgId,
      top.map(([id]) => id),
    );
    const daily = [];
    for (let day = floorDay(from); day < to; day += DAY_MS) {
      const t = aggregates.byDay.get(day);
      daily.push({ date: iso(day).slice(0, 10), runs: t?.runs ?? 0, tokens: t?.tokens ?? 0, cost: usd(t?.cost ?? 0) });
    }
    return c.json(
      {
        period: { from: iso(from), to: iso(to - 1) },
        totals: { ...totals, cost: usd(totals.cost) },
        activeAgents: active.length,
        topAgents: top.map(([agentId, t]) => ({
          agentId,
          name: names.get(agentId) ?? agentId,
          runs: t.runs,
          tokens: t.tokens,
          cost: usd(t.cost),
        })),
        recentActivity: recent.map(serializeUsageRecord),
        daily,
      },
      200,
    );
  });

  return app;
}
