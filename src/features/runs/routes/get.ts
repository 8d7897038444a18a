import { jsonResponse } from "../../../http/openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { RunSchema } from "../serialize";
import { RunParams, tags } from "./schemas";
import { orgRoute } from "../../../http/routes";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/runs/{runId}",
  operationId: "runs.get",
  tags,
  summary: "A run: status, figures, stop reason, the seq of its newest event",
  description: "Visible to whoever may read its agent, and to the API key that started it (a chat key reads its own runs).",
  request: { params: RunParams },
  responses: { 200: jsonResponse(RunSchema, "The run") },
  permission: null,
});

export function getRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { runId } = c.req.valid("param");
    const row = await c.var.services.runs.get(c.var.access, runId);
    return c.json(await c.var.services.runs.view(row), 200);
  });
}
