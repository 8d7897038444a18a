import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { OrgIdParam, PaginationQuery, jsonResponse, paginated } from "../../../http/openapi";
import { RunSchema, RunStatusSchema } from "../serialize";
import { tags } from "./schemas";
import { orgRoute } from "../../../http/routes";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/runs",
  operationId: "runs.list",
  tags,
  summary: "List runs, newest first",
  description:
    "Filters: `agentId`, `conversationId`, `status`. A key restricted by `agentIds` sees only its agents' runs; a chat-only key only the runs it started.",
  request: {
    params: z.object({ orgId: OrgIdParam }),
    query: PaginationQuery.extend({
      agentId: z.string().min(1).max(64).optional(),
      conversationId: z.string().min(1).max(64).optional(),
      status: RunStatusSchema.optional(),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(RunSchema), page: z.number(), limit: z.number(), total: z.number(), hasMore: z.boolean() }),
      "Runs",
    ),
  },
  permission: null,
});

export function listRuns(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { page, limit, agentId, conversationId, status } = c.req.valid("query");
    const { rows, total } = await c.var.services.runs.list(c.var.access, { agentId, conversationId, status }, page, limit);
    return c.json(paginated(await c.var.services.runs.views(c.var.access.orgId, rows), page, limit, total), 200);
  });
}
