import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { OrgIdParam, PaginationQuery, commonErrors, jsonResponse, paginated } from "../../../http/openapi";
import { RunSchema, RunStatusSchema } from "../serialize";
import { tags } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/runs",
  tags,
  summary: "List runs, newest first",
  description:
    "Filters: `agentId`, `conversationId`, `status`. A key restricted by `agentIds` sees only its agents' runs; a chat-only key only the runs it started.",
  middleware: [requireAuth, orgAccess] as const,
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
    ...commonErrors,
  },
});

export function listRuns(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { page, limit, agentId, conversationId, status } = c.req.valid("query");
    const { rows, total } = await c.var.services.runs.list(c.var.access, { agentId, conversationId, status }, page, limit);
    return c.json(paginated(await c.var.services.runs.views(c.var.access.orgId, rows), page, limit, total), 200);
  });
}
