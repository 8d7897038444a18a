import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { jsonResponse } from "../../../http/openapi";
import { RunSchema } from "../serialize";
import { RunParams, tags } from "./schemas";
import { orgRoute } from "../../../http/routes";

const route = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/runs/{runId}/cancel",
  operationId: "runs.cancel",
  tags,
  summary: "Cancel a queued, running or waiting run",
  description:
    "Works from any gateway: the one executing the run stops it and aborts its model call. Answers once the run has ended " +
    "(`cancelled`, with its usage recorded), or after 5 s with the run as it then is. By a principal with write permission, " +
    "or the one that started the run.",
  request: { params: RunParams },
  responses: {
    200: jsonResponse(RunSchema, "The run"),
  },
  errors: { 409: "The run has already ended" },
  permission: null,
});

export function cancelRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { runId } = c.req.valid("param");
    const row = await c.var.services.runs.cancel(c.var.access, runId);
    return c.json(await c.var.services.runs.view(row), 200);
  });
}
